// The floor under the daemon's plugin loading: dlopen (RTLD_NOW | RTLD_LOCAL,
// as the loader does) of each file named on the command line and dlsym of its
// info symbol, nothing else. Prints the wall time of the whole loop in ms.
#include <dlfcn.h>

#include <chrono>
#include <cstdio>

int main(int argc, char** argv) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 1; i < argc; ++i) {
    void* handle = ::dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr || ::dlsym(handle, "tails_server_plugin_info_v1") == nullptr) {
      std::fprintf(stderr, "dlopen-floor: %s: %s\n", argv[i], ::dlerror());
      return 1;
    }
  }
  std::chrono::duration<double, std::milli> taken = std::chrono::steady_clock::now() - start;
  std::printf("%.3f\n", taken.count());
  return 0;
}
