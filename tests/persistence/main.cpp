// The tests bind-mount: they run in a private mount namespace of their own
// (as root), so that nothing they mount reaches the host.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

bool g_can_mount = false;

int main(int argc, char** argv) {
  if (::geteuid() == 0 && ::unshare(CLONE_NEWNS) == 0 &&
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0)
    g_can_mount = true;
  else
    std::fprintf(stderr, "persistence-tests: no private mount namespace (not root?): the data is moved, not mounted\n");
  doctest::Context context(argc, argv);
  return context.run();
}
