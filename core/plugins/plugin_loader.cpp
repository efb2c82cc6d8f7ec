// Loads service plugins: checks each file before dlopen, reads the plain C
// info struct before any C++ type, then constructs and checks the service.
// Every refusal becomes a PluginRecord with a state and a message that names
// the file, what was expected, what was found, and what to do.
#include "plugins/plugin_loader.h"

#include <tails_server/plugin.h>
#include <tails_server/standard_options.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

namespace tails_server::core {

std::string_view to_string(PluginState state) {
  switch (state) {
    case PluginState::Loaded: return "loaded";
    case PluginState::NotAPlugin: return "not-a-plugin";
    case PluginState::Insecure: return "insecure";
    case PluginState::LoadFailed: return "load-failed";
    case PluginState::WrongApiVersion: return "wrong-api-version";
    case PluginState::WrongAbi: return "wrong-abi";
    case PluginState::NoFactory: return "no-factory";
    case PluginState::ConstructorFailed: return "constructor-failed";
    case PluginState::InvalidMetadata: return "invalid-metadata";
    case PluginState::Duplicate: return "duplicate";
  }
  return "unknown";
}

namespace {

namespace fs = std::filesystem;

// Longest string read from a plugin's C info struct; a longer one is cut.
constexpr std::size_t kMaxInfoString = 256;

std::string quote_path(const fs::path& file) { return "'" + file.string() + "'"; }
std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string octal_mode(mode_t mode) {
  std::array<char, 8> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return buffer.data();
}

// A string from the info struct, or "" if the pointer is null.
std::string info_string(const char* text) {
  if (!text) return {};
  return std::string(text, strnlen(text, kMaxInfoString));
}

bool is_lower_alpha(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// [a-z][a-z0-9-]{0,max_tail}
bool is_identifier(std::string_view text, std::size_t max_tail = std::string_view::npos) {
  if (text.empty() || !is_lower_alpha(text.front())) return false;
  if (text.size() - 1 > max_tail) return false;
  return std::all_of(text.begin() + 1, text.end(),
                     [](char c) { return is_lower_alpha(c) || is_digit(c) || c == '-'; });
}

// Debian Policy 5.6.1: [a-z0-9][a-z0-9+.-]+
bool is_debian_package_name(std::string_view text) {
  if (text.size() < 2 || !(is_lower_alpha(text.front()) || is_digit(text.front()))) return false;
  return std::all_of(text.begin() + 1, text.end(), [](char c) {
    return is_lower_alpha(c) || is_digit(c) || c == '+' || c == '.' || c == '-';
  });
}

bool is_standard_option(std::string_view name) {
  namespace so = tails_server::standard_option;
  for (const char* standard : {so::virtual_port, so::local_port, so::persistence, so::autostart,
                               so::allow_localhost, so::allow_lan, so::client_authorization})
    if (name == standard) return true;
  return false;
}

// What is wrong with the service's attributes, as "<field> <problem>", or ""
// if nothing is.
std::string metadata_problem_text(const TailsService& service, std::string_view info_name) {
  if (!is_identifier(service.name, 31))
    return "name " + in_quotes(service.name) + " must match [a-z][a-z0-9-]{0,31}";
  if (service.name != info_name)
    return "name " + in_quotes(service.name) + " differs from the name " + in_quotes(info_name) +
           " given to TAILS_SERVER_PLUGIN; they must be equal";
  if (service.description.empty()) return "description must not be empty";
  if (service.client_application.empty()) return "client_application must not be empty";
  if (service.systemd_service.empty()) return "systemd_service must not be empty";
  if (service.packages.empty()) return "packages must list at least one Debian package";
  for (std::size_t i = 0; i < service.packages.size(); ++i)
    if (!is_debian_package_name(service.packages[i]))
      return "packages[" + std::to_string(i) + "] " + in_quotes(service.packages[i]) +
             " is not a Debian package name ([a-z0-9][a-z0-9+.-]+)";
  if (service.default_target_port == 0)
    return "default_target_port is 0; it must be a port from 1 to 65535";
  // default_virtual_port is a uint16_t: 0 (meaning "same as the target
  // port") to 65535, so every value is valid.
  std::set<std::string, std::less<>> option_names;
  for (std::size_t i = 0; i < service.options.size(); ++i) {
    const OptionPtr& option = service.options[i];
    std::string where = "options[" + std::to_string(i) + "]";
    if (!option) return where + " is null";
    const std::string& name = option->name();
    if (!is_identifier(name))
      return where + " name " + in_quotes(name) + " must match [a-z][a-z0-9-]*";
    if (is_standard_option(name))
      return where + " name " + in_quotes(name) +
             " is a standard option the core adds to every service; choose another name";
    if (!option_names.insert(name).second)
      return where + " name " + in_quotes(name) + " is used by another option; names must be unique";
  }
  for (std::size_t i = 0; i < service.persistent_paths.size(); ++i)
    if (service.persistent_paths[i].empty() || service.persistent_paths[i].front() != '/')
      return "persistent_paths[" + std::to_string(i) + "] " + in_quotes(service.persistent_paths[i]) +
             " must be an absolute path";
  std::set<std::string, std::less<>> command_names;
  for (std::size_t i = 0; i < service.commands.size(); ++i) {
    const std::string& name = service.commands[i].name;
    std::string where = "commands[" + std::to_string(i) + "]";
    if (name.empty()) return where + " name must not be empty";
    if (!command_names.insert(name).second)
      return where + " name " + in_quotes(name) + " is used by another command; names must be unique";
  }
  return {};
}

// dlerror's text from the exception the throwing shared_library::load() makes:
// "<context> (dlerror system message: <text>): <error code message>".
std::string dlerror_text(const std::system_error& error) {
  std::string what = error.what();
  static constexpr std::string_view kPrefix = "(dlerror system message: ";
  std::size_t start = what.find(kPrefix);
  if (start == std::string::npos) return what;
  start += kPrefix.size();
  std::string suffix = "): " + error.code().message();
  std::size_t end = what.size() >= suffix.size() && what.ends_with(suffix)
                        ? what.size() - suffix.size()
                        : what.rfind(')');
  if (end == std::string::npos || end < start) return what.substr(start);
  return what.substr(start, end - start);
}

// Whether dlopen refused the file because it is no shared object at all, as
// opposed to a shared object that cannot be loaded here.
bool is_not_a_shared_object(std::string_view dlerror) {
  for (std::string_view sign : {"invalid ELF header", "file too short",
                                "only ET_DYN and ET_EXEC can be loaded",
                                "cannot dynamically load position-independent executable",
                                "cannot dynamically load executable"})
    if (dlerror.find(sign) != std::string_view::npos) return true;
  return false;
}

// The "*.so" regular files of `directory`, sorted by name. A missing or
// unreadable directory has none.
std::vector<fs::path> candidate_files(const fs::path& directory) {
  std::vector<fs::path> files;
  std::error_code error;
  fs::directory_iterator it(directory, error);
  if (error) return files;
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) break;
    const fs::path& path = it->path();
    if (path.extension() != ".so") continue;
    std::error_code status_error;
    if (!it->is_regular_file(status_error)) continue;
    files.push_back(path);
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return files;
}

// Why a file is not loaded: its state and a message that names the file,
// what was expected and found, and what to do.
struct Refusal {
  PluginState state;
  std::string message;
};
using Step = std::optional<Refusal>;

// Refuses a file that someone other than root or us could change.
Step check_file_safety(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    int error = errno;
    return Refusal{PluginState::LoadFailed,
                   "Cannot read plugin " + quote_path(file) + ": " + std::strerror(error) + "."};
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return Refusal{PluginState::Insecure,
                   "Insecure plugin " + quote_path(file) + ": it is writable by group or others (mode " +
                       octal_mode(st.st_mode) + "); it must not be: chmod go-w " + quote_path(file)};
  uid_t self = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != self) {
    std::string allowed = self == 0 ? "root (uid 0)"
                                    : "root (uid 0) or the daemon's user (uid " +
                                          std::to_string(self) + ")";
    return Refusal{PluginState::Insecure, "Insecure plugin " + quote_path(file) + ": it is owned by uid " +
                                              std::to_string(st.st_uid) + "; it must be owned by " +
                                              allowed + ": chown root " + quote_path(file)};
  }
  return std::nullopt;
}

// dlopen: runs the plugin's static initializers, nothing else of it.
Step open_library(const fs::path& file, boost::dll::shared_library& library) {
  try {
    library.load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::system_error& error) {
    std::string text = dlerror_text(error);
    if (is_not_a_shared_object(text))
      return Refusal{PluginState::NotAPlugin, "Not a plugin: " + quote_path(file) +
                                                  " is not a shared library (" + text +
                                                  "). Only Tails Server plugins belong here."};
    return Refusal{PluginState::LoadFailed,
                   "Cannot load plugin " + quote_path(file) + ": " + text +
                       ". Rebuild it against this SDK with tails_server_add_plugin(), which "
                       "refuses undefined symbols, and install the libraries it needs."};
  } catch (const std::exception& error) {
    return Refusal{PluginState::LoadFailed, "Cannot load plugin " + quote_path(file) + ": " + error.what() + "."};
  }
  return std::nullopt;
}

// The C info struct: plain data, safe to read whatever the plugin's ABI.
// Sets the record's name and SDK version to what it gives.
Step check_info(const fs::path& file, const boost::dll::shared_library& library, PluginRecord& record) {
  std::string& name = record.name;
  if (!library.has(TAILS_SERVER_PLUGIN_INFO_SYMBOL))
    return Refusal{PluginState::NotAPlugin, "Not a plugin: " + quote_path(file) + " has no " +
                                                TAILS_SERVER_PLUGIN_INFO_SYMBOL +
                                                " symbol: it is not a Tails Server plugin."};
  const auto& info = library.get<const tails_server_plugin_info>(TAILS_SERVER_PLUGIN_INFO_SYMBOL);
  if (info.magic != TAILS_SERVER_PLUGIN_MAGIC) {
    std::array<char, 32> found{}, expected{};
    std::snprintf(found.data(), found.size(), "0x%08X", static_cast<unsigned>(info.magic));
    std::snprintf(expected.data(), expected.size(), "0x%08X", TAILS_SERVER_PLUGIN_MAGIC);
    return Refusal{PluginState::NotAPlugin,
                   "Not a plugin: " + quote_path(file) + " has a " + TAILS_SERVER_PLUGIN_INFO_SYMBOL +
                       " symbol with magic " + found.data() + " instead of " + expected.data() +
                       ": it was not made with TAILS_SERVER_PLUGIN."};
  }
  name = info_string(info.plugin_name);
  record.sdk_version = std::to_string(info.api_major) + "." + std::to_string(info.api_minor);

  if (info.api_major != TAILS_SERVER_API_MAJOR || info.api_minor > TAILS_SERVER_API_MINOR)
    return Refusal{PluginState::WrongApiVersion,
                   "Wrong API version on plugin " + quote_path(file) + ": built for " +
                       std::to_string(info.api_major) + "." + std::to_string(info.api_minor) +
                       ", this host supports " + std::to_string(TAILS_SERVER_API_MAJOR) + "." +
                       std::to_string(TAILS_SERVER_API_MINOR) + " (same major, minor up to " +
                       std::to_string(TAILS_SERVER_API_MINOR) + "). Rebuild it against this SDK."};

  std::string abi_tag = info.abi_tag ? info_string(info.abi_tag) : std::string();
  if (!info.abi_tag || abi_tag != TAILS_SERVER_ABI_TAG)
    return Refusal{PluginState::WrongAbi,
                   "Wrong ABI on plugin " + quote_path(file) + ": built with ABI tag " +
                       (info.abi_tag ? in_quotes(abi_tag) : std::string("(none)")) +
                       ", this host has " + in_quotes(std::string_view(TAILS_SERVER_ABI_TAG)) +
                       ". Rebuild it against this SDK with the host's compiler and C++ library."};

  if (!is_identifier(name, 31))
    return Refusal{PluginState::InvalidMetadata,
                   "Invalid metadata in plugin " + quote_path(file) + ": plugin name " + in_quotes(name) +
                       " in " + TAILS_SERVER_PLUGIN_INFO_SYMBOL + " must match [a-z][a-z0-9-]{0,31}."};

  if (!library.has(TAILS_SERVER_PLUGIN_FACTORY_SYMBOL))
    return Refusal{PluginState::NoFactory,
                   "No factory in plugin " + quote_path(file) + ": it has no " +
                       TAILS_SERVER_PLUGIN_FACTORY_SYMBOL +
                       " symbol. Export the service with TAILS_SERVER_PLUGIN(Class, \"" + name + "\")."};
  return std::nullopt;
}

Step check_unique(const fs::path& file, const std::string& name, const std::vector<PluginRecord>& earlier) {
  for (const PluginRecord& record : earlier)
    if (record.state == PluginState::Loaded && record.name == name)
      return Refusal{PluginState::Duplicate,
                     "Duplicate plugin " + in_quotes(name) + " in " + quote_path(file) +
                         ": a plugin of that name was already loaded from " + quote_path(record.file) +
                         ". Remove one of the two files."};
  return std::nullopt;
}

// Runs the factory and checks the service's attributes. The service's
// deleter holds the library, so a service never outlives its code.
Step create_service(const fs::path& file, const std::shared_ptr<boost::dll::shared_library>& library,
                    PluginRecord& record) {
  std::unique_ptr<TailsService> created;
  try {
    auto& factory = library->get_alias<ServiceFactory>(TAILS_SERVER_PLUGIN_FACTORY_SYMBOL);
    created = factory();
  } catch (const std::exception& error) {
    return Refusal{PluginState::ConstructorFailed, "Failed to create the service of plugin " + quote_path(file) +
                                                       ": it threw: " + error.what() + "."};
  } catch (...) {
    return Refusal{PluginState::ConstructorFailed,
                   "Failed to create the service of plugin " + quote_path(file) +
                       ": it threw something that is not a std::exception."};
  }
  if (!created)
    return Refusal{PluginState::ConstructorFailed, "Failed to create the service of plugin " + quote_path(file) +
                                                       ": its factory returned no service."};
  record.service = std::shared_ptr<TailsService>(created.release(),
                                                 [library](TailsService* service) { delete service; });
  if (std::string problem = metadata_problem_text(*record.service, record.name); !problem.empty())
    return Refusal{PluginState::InvalidMetadata,
                   "Invalid metadata in plugin " + quote_path(file) + ": " + problem + "."};
  return std::nullopt;
}

}  // namespace

std::string metadata_problem(const TailsService& service, std::string_view info_name) {
  return metadata_problem_text(service, info_name);
}

PluginLoader::~PluginLoader() {
  // Services first, newest first, while their code is still mapped; then the
  // libraries, newest first. A service someone still holds keeps its library
  // (its deleter owns a reference).
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) it->service.reset();
  while (!libraries_.empty()) libraries_.pop_back();
}

const std::vector<PluginRecord>& PluginLoader::load(const std::vector<fs::path>& directories) {
  for (const fs::path& directory : directories)
    for (const fs::path& file : candidate_files(directory)) records_.push_back(load_file(file));
  return records_;
}

PluginRecord PluginLoader::load_file(const fs::path& file) {
  PluginRecord record;
  record.file = file;
  // Until the factory runs, no code of the plugin but its static
  // initializers has run, so a refused library is unloaded when `library`
  // goes out of scope.
  auto library = std::make_shared<boost::dll::shared_library>();
  Step refusal = check_file_safety(file);
  if (!refusal) refusal = open_library(file, *library);
  if (!refusal) refusal = check_info(file, *library, record);
  if (!refusal) refusal = check_unique(file, record.name, records_);
  if (!refusal) {
    // From here on the plugin's own code runs and may leave anything behind
    // (an exception's type, a registered callback), so its library stays
    // loaded as long as the loader lives, whatever happens.
    libraries_.push_back(library);
    refusal = create_service(file, library, record);
  }
  if (refusal) {
    record.state = refusal->state;
    record.message = std::move(refusal->message);
    record.service.reset();
    return record;
  }
  record.state = PluginState::Loaded;
  return record;
}

}  // namespace tails_server::core
