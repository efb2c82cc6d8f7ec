// What became of one plugin file, and why it was refused.
#pragma once

#include <string>
#include <string_view>

namespace tails_server::core {

enum class PluginState {
  Loaded,
  NotAPlugin,         // no info struct, or no ELF shared object at all
  Insecure,           // it or its directory writable by group or others, or owned by another user
  Unreadable,         // not a regular file: a symbolic link, a directory, a device; or it cannot be opened
  Corrupt,            // an ELF file cut short or inconsistent: it never reaches dlopen
  LoadFailed,         // dlopen failed (e.g. an undefined symbol), or built for another machine
  WrongApiVersion,    // other major, or a newer minor than the host's
  WrongAbi,           // ABI tag differs
  NoFactory,          // no factory symbol
  ConstructorFailed,  // the factory threw or returned nothing
  InvalidMetadata,    // required attributes missing or malformed
  Duplicate,          // a plugin of the same name was loaded before
  Crashed,            // the daemon died while running its code: put aside (plugins/quarantine.h)
};

// "loaded", "not-a-plugin", "insecure", "unreadable", "corrupt",
// "load-failed", "wrong-api-version", "wrong-abi", "no-factory",
// "constructor-failed", "invalid-metadata", "duplicate", "crashed".
std::string_view to_string(PluginState state);

// Why a file is not loaded: its state and a message that names the file,
// what was expected and found, and what to do.
struct Refusal {
  PluginState state;
  std::string message;
};

}  // namespace tails_server::core
