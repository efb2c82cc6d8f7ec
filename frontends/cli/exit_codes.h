// The CLI's exit codes, one per kind of failure (documented in --help).
#pragma once

#include "error.h"

namespace tails_server::cli {

enum ExitCode : int {
  ok = 0,
  failed = 1,            // the daemon or a plugin failed; anything else
  usage_error = 2,       // wrong command line
  unreachable = 3,       // tails-serverd is not on the system bus
  no_such_service = 4,
  no_such_option = 5,
  invalid_value = 6,     // a value or argument was refused
  access_denied = 7,     // needs root or polkit authorization
  state_error = 8,       // the service's state file is unreadable
  busy = 9,              // another operation runs on the service (or another install)
  not_installed = 10,    // the service's packages are not installed
  no_such_client = 11,   // the service has no client of that name
  daemon_stopped = 12,   // tails-serverd died during the call (a plugin crashed it)
  interrupted = 130,     // SIGINT or SIGTERM while waiting (the daemon goes on)
};

// The exit code for a kind of failure: one per kind.
constexpr ExitCode exit_code_for(client::ErrorKind kind) {
  using client::ErrorKind;
  switch (kind) {
    case ErrorKind::unreachable: return unreachable;
    case ErrorKind::no_such_service: return no_such_service;
    case ErrorKind::no_such_option: return no_such_option;
    case ErrorKind::invalid_value: return invalid_value;
    case ErrorKind::access_denied: return access_denied;
    case ErrorKind::state_error: return state_error;
    case ErrorKind::busy: return busy;
    case ErrorKind::not_installed: return not_installed;
    case ErrorKind::no_such_client: return no_such_client;
    case ErrorKind::daemon_stopped: return daemon_stopped;
    case ErrorKind::interrupted: return interrupted;
    case ErrorKind::failed: break;
  }
  return failed;
}

inline constexpr const char* exit_codes_help =
    "Exit status:\n"
    "    0  success\n"
    "    1  the operation failed\n"
    "    2  usage error\n"
    "    3  tails-serverd cannot be reached on the system bus\n"
    "    4  no such service\n"
    "    5  no such option\n"
    "    6  invalid value\n"
    "    7  access denied (needs root or polkit authorization)\n"
    "    8  the service's state file is unreadable\n"
    "    9  busy: another operation runs on the service, or another install or uninstall\n"
    "   10  the service is not installed (install it first)\n"
    "   11  no such client\n"
    "   12  tails-serverd stopped during the call (a plugin crashed it; it was put aside)\n"
    "  130  interrupted while waiting; the operation goes on in tails-serverd\n";

}  // namespace tails_server::cli
