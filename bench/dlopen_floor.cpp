// The floor under the daemon's plugin loading: dlopen (RTLD_NOW | RTLD_LOCAL,
// as the loader does) of each file named on the command line and dlsym of its
// info symbol, nothing else. Prints the CPU time (user + system) of the whole
// loop in ms, comparable with the daemon's CPU time in run_bench.py.
#include <dlfcn.h>

#include <time.h>

#include <cstdio>

namespace {

double cpu_ms() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  double start = cpu_ms();
  for (int i = 1; i < argc; ++i) {
    void* handle = ::dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr || ::dlsym(handle, "tails_server_plugin_info_v1") == nullptr) {
      std::fprintf(stderr, "dlopen-floor: %s: %s\n", argv[i], ::dlerror());
      return 1;
    }
  }
  std::printf("%.3f\n", cpu_ms() - start);
  return 0;
}
