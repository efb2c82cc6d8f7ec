// Loads service plugins: checks each file before dlopen, reads the plain C
// info struct before any C++ type, then constructs and checks the service.
// Every refusal becomes a PluginRecord with a state and a message that names
// the file, what was expected, what was found, and what to do.
#include "plugins/plugin_loader.h"

#include "plugins/elf_check.h"

#include <tails_server/plugin.h>
#include <tails_server/standard_options.h>

#include <boost/dll/shared_library.hpp>

#include <dlfcn.h>
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
    case PluginState::Unreadable: return "unreadable";
    case PluginState::Corrupt: return "corrupt";
    case PluginState::LoadFailed: return "load-failed";
    case PluginState::WrongApiVersion: return "wrong-api-version";
    case PluginState::WrongAbi: return "wrong-abi";
    case PluginState::NoFactory: return "no-factory";
    case PluginState::ConstructorFailed: return "constructor-failed";
    case PluginState::InvalidMetadata: return "invalid-metadata";
    case PluginState::Duplicate: return "duplicate";
    case PluginState::Crashed: return "crashed";
  }
  return "unknown";
}

namespace {

namespace fs = std::filesystem;

// Longest string read from a plugin's C info struct; a longer one is cut.
constexpr std::size_t kMaxInfoString = 256;

std::string quote_path(const fs::path& file) { return "'" + file.string() + "'"; }
std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

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
  for (std::size_t i = 0; i < service.packages.size(); ++i)
    if (!is_debian_package_name(service.packages[i]))
      return "packages[" + std::to_string(i) + "] " + in_quotes(service.packages[i]) +
             " is not a Debian package name ([a-z0-9][a-z0-9+.-]+)";
  if (service.default_local_port == 0) return "default_local_port is 0; it must be a port from 1 to 65535";
  // default_virtual_port is a uint16_t: 0 (meaning "same as the local
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

using Step = std::optional<Refusal>;

// The path dlopen is given for the open descriptor `fd`.
std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// `text` with every mention of the descriptor's path replaced by the file's.
std::string name_file(std::string text, int fd, const fs::path& file) {
  const std::string alias = fd_path(fd);
  for (std::size_t at = text.find(alias); at != std::string::npos; at = text.find(alias, at + file.string().size()))
    text.replace(at, alias.size(), file.string());
  return text;
}

// The ELF check: a file dlopen would map past its end never reaches it.
Step check_elf(const fs::path& file, int fd, const struct stat& st) {
  auto problem = elf_problem(fd, static_cast<std::uint64_t>(st.st_size));
  if (!problem) return std::nullopt;
  switch (problem->kind) {
    case ElfProblem::Kind::NotElf:
    case ElfProblem::Kind::NotShared:
      return Refusal{PluginState::NotAPlugin, "Not a plugin: " + quote_path(file) + " is not a shared library (" +
                                                  problem->text + "). Only Tails Server plugins belong here."};
    case ElfProblem::Kind::OtherMachine:
      return Refusal{PluginState::LoadFailed, "Cannot load plugin " + quote_path(file) + ": " + problem->text +
                                                  ". Install the plugin built for this machine."};
    case ElfProblem::Kind::Damaged:
      break;
  }
  return Refusal{PluginState::Corrupt,
                 "Corrupt plugin " + quote_path(file) + ": " + problem->text +
                     "; a whole shared object was expected (an interrupted upgrade or a full disk leaves files "
                     "cut short). Reinstall the package that owns it: dpkg -S " + quote_path(file)};
}

Step check_quarantine(const fs::path& file, Quarantine* quarantine, PluginRecord& record) {
  if (!quarantine) return std::nullopt;
  auto crash = quarantine->find(file, record.identity);
  if (!crash) return std::nullopt;
  record.name = crash->name;
  std::string retry = crash->name.empty() ? file.filename().string() : crash->name;
  return Refusal{PluginState::Crashed,
                 "Crashed plugin " + quote_path(file) + ": tails-serverd died while running its " + crash->step +
                     " step (noticed " + crash->noticed + "), so it is put aside and its services are left as "
                     "they are. It stays aside until its file changes (a new version) or an administrator runs: "
                     "tails-server plugin retry " + retry + ". The crash is in the journal: journalctl -u "
                     "tails-serverd"};
}

}  // namespace

struct PluginLoader::OpenLibrary {
  Fd fd;
  boost::dll::shared_library library;

  explicit OpenLibrary(Fd descriptor) : fd(std::move(descriptor)) {}
  // glibc finds a loaded library by its name, /proc/self/fd/N, before it
  // opens anything: while a library stays mapped after dlclose (glibc keeps
  // some, e.g. with STB_GNU_UNIQUE symbols), its descriptor stays open, so
  // that no other file gets that number and that name.
  ~OpenLibrary() {
    if (!library.is_loaded()) return;
    library.unload();
    std::string name = fd_path(fd.get());
    if (void* still = ::dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD)) {
      ::dlclose(still);
      (void)fd.release();
    }
  }
};

namespace {

// dlopen: runs the plugin's static initializers, nothing else of it.
Step open_library(const fs::path& file, PluginLoader::OpenLibrary& open) {
  try {
    open.library.load(fd_path(open.fd.get()), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::system_error& error) {
    std::string text = name_file(dlerror_text(error), open.fd.get(), file);
    if (is_not_a_shared_object(text))
      return Refusal{PluginState::NotAPlugin, "Not a plugin: " + quote_path(file) +
                                                  " is not a shared library (" + text +
                                                  "). Only Tails Server plugins belong here."};
    return Refusal{PluginState::LoadFailed,
                   "Cannot load plugin " + quote_path(file) + ": " + text +
                       ". Rebuild it against this SDK with tails_server_add_plugin(), which "
                       "refuses undefined symbols, and install the libraries it needs."};
  } catch (const std::exception& error) {
    return Refusal{PluginState::LoadFailed, "Cannot load plugin " + quote_path(file) + ": " +
                                                name_file(error.what(), open.fd.get(), file) + "."};
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
Step create_service(const fs::path& file, const std::shared_ptr<PluginLoader::OpenLibrary>& library,
                    PluginRecord& record) {
  std::unique_ptr<TailsService> created;
  try {
    auto& factory = library->library.get_alias<ServiceFactory>(TAILS_SERVER_PLUGIN_FACTORY_SYMBOL);
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
    for (PluginFile& file : open_plugin_files(directory)) records_.push_back(load_file(std::move(file)));
  return records_;
}

const PluginRecord* PluginLoader::reload(const fs::path& file) {
  for (PluginRecord& record : records_) {
    if (record.file != file) continue;
    for (PluginFile& found : open_plugin_files(file.parent_path()))
      if (found.path == file) {
        record = load_file(std::move(found));
        return &record;
      }
    record.state = PluginState::Unreadable;
    record.message = "Unreadable plugin " + quote_path(file) + ": it is no longer there.";
    return &record;
  }
  return nullptr;
}

Quarantine::Step PluginLoader::step(const PluginRecord& record, std::string_view step) {
  if (!quarantine_) return Quarantine::Step(nullptr);
  return quarantine_->begin(record.file, record.identity, record.name, step);
}

PluginRecord PluginLoader::load_file(PluginFile file) {
  PluginRecord record;
  record.file = file.path;
  if (file.fd) record.identity = FileIdentity::of(file.st);
  Step refusal = std::move(file.refusal);
  if (!refusal) refusal = check_quarantine(file.path, quarantine_, record);
  if (!refusal) refusal = check_elf(file.path, file.fd.get(), file.st);
  auto library = std::make_shared<OpenLibrary>(std::move(file.fd));
  if (!refusal) {
    // Until the factory runs, no code of the plugin but its static
    // initializers has run, so a refused library is unloaded here (its
    // static destructors run inside the step too).
    auto loading = step(record, "load");
    refusal = open_library(record.file, *library);
    if (!refusal) refusal = check_info(record.file, library->library, record);
    if (!refusal) refusal = check_unique(record.file, record.name, records_);
    if (refusal) library.reset();
  }
  if (!refusal) {
    // From here on the plugin's own code runs and may leave anything behind
    // (an exception's type, a registered callback), so its library stays
    // loaded as long as the loader lives, whatever happens.
    libraries_.push_back(library);
    auto creating = step(record, "create");
    refusal = create_service(record.file, library, record);
    if (refusal) record.service.reset();
  }
  if (refusal) {
    record.state = refusal->state;
    record.message = std::move(refusal->message);
    return record;
  }
  record.state = PluginState::Loaded;
  return record;
}

}  // namespace tails_server::core
