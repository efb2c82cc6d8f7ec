// The verbs of tails-server. They hold no business logic: each calls the
// daemon over D-Bus and prints what it says.
#include "verbs.h"

#include "autostart.h"
#include "crashed_plugins.h"
#include "daemon_client.h"
#include "output.h"
#include "progress.h"
#include "secret_input.h"

#include "dbus/contract.h"
#include "qr/qr_code.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace tails_server::cli {
namespace {

namespace method = tails_server::dbus::method;
using namespace tails_server::client;


// An option's value as YAML/JSON: booleans and numbers typed, the rest text.
Document typed(const std::string& type, bool secret, const std::string& value) {
  if (!secret && type == "boolean" && (value == "true" || value == "false")) return value == "true";
  if (!secret && (type == "integer" || type == "port")) {
    std::int64_t number = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (error == std::errc() && end == value.data() + value.size()) return number;
  }
  return value;
}

const Option* find_option(const std::vector<Option>& options, const std::string& name) {
  auto it = std::find_if(options.begin(), options.end(), [&](const Option& o) { return o.name == name; });
  return it == options.end() ? nullptr : &*it;
}

Document text_or_null(const std::string& text) { return text.empty() ? Document(nullptr) : Document(text); }
Document address(const std::string& onion) { return text_or_null(onion); }

Document strings(const std::vector<std::string>& values) {
  Document list = Document::array();
  for (const auto& value : values) list.push_back(value);
  return list;
}

void list(const Invocation& in) {
  DaemonClient client;
  Document doc = Document::object();
  for (const auto& s : client.list_services()) {
    doc[s.name] = {{"state", s.state},         {"installed", s.installed}, {"running", s.running},
                   {"published", s.published}, {"onion", text_or_null(s.onion)}};
    if (s.state == "plugin-crashed") doc[s.name]["message"] = s.description;
  }
  if (in.all) {
    for (const auto& p : client.list_plugins()) {
      if (p.state == "loaded" && doc.contains(p.name)) {
        doc[p.name]["plugin"] = p.file;
        doc[p.name]["sdk-version"] = p.sdk_version;
        continue;
      }
      // Refused plugins are keyed by file: a path never clashes with a name.
      Document entry = Document::object();
      entry["name"] = p.name.empty() ? Document(nullptr) : Document(p.name);
      entry["state"] = p.state;
      entry["message"] = p.message;
      entry["sdk-version"] = p.sdk_version.empty() ? Document(nullptr) : Document(p.sdk_version);
      doc[p.file] = entry;
    }
  }
  print(std::cout, doc, in.format);
}

void plugin(const Invocation& in) {
  if (in.args[0] != "retry") throw UsageError("unknown plugin action '" + in.args[0] + "'; known: retry");
  const std::string& name = in.args[1];
  DaemonClient client;
  print(std::cout, Document{{name, {{"state", client.retry_plugin(name)}}}}, in.format);
}

void info(const Invocation& in) {
  const std::string& service = in.args[0];
  DaemonClient client;
  ServiceDetails d = client.info(service);
  std::vector<Option> options = client.options(service);
  Document s = Document::object();
  s["description"] = d.description;
  s["state"] = d.status.state;
  s["installed"] = d.status.installed;
  s["running"] = d.status.running;
  s["published"] = d.status.published;
  s["enabled"] = d.status.enabled;
  s["address"] = address(d.status.address);
  s["onion"] = text_or_null(d.status.onion);
  s["tor"] = text_or_null(d.status.tor);
  s["local-port"] = d.local_port;
  s["virtual-port"] = d.virtual_port;
  s["persistent-paths"] = strings(d.persistent_paths);
  if (!d.state_error.empty()) s["state-error"] = d.state_error;
  if (in.details) {
    s["client-application"] = d.client_application;
    s["documentation"] = d.documentation;
    s["packages"] = strings(d.packages);
    s["unit"] = d.systemd_service;
    Document commands = Document::array();
    for (const auto& c : d.commands)
      commands.push_back({{"name", c.name},
                          {"description", c.description},
                          {"arguments", strings(c.arguments)},
                          {"reads-secret", c.reads_secret}});
    s["commands"] = commands;
  }
  Document option_map = Document::object();
  for (const auto& o : options) {
    Document value = typed(o.type, o.secret, o.value);
    if (!in.details) {
      option_map[o.name] = value;
      continue;
    }
    Document entry = {{"value", value}, {"type", o.type}, {"accepted", o.accepted},
                      {"description", o.description}, {"default", o.is_default}};
    if (o.secret) entry["secret"] = true;
    if (o.read_only) entry["read-only"] = true;
    option_map[o.name] = entry;
  }
  s["options"] = option_map;
  print(std::cout, Document{{service, s}}, in.format);
}

Document status_document(const Status& st) {
  return {{"state", st.state},
          {"installed", st.installed},
          {"running", st.running},
          {"published", st.published},
          {"enabled", st.enabled},
          {"address", address(st.address)},
          {"onion", text_or_null(st.onion)},
          {"tor", text_or_null(st.tor)}};
}

void status(const Invocation& in) {
  const std::string& service = in.args[0];
  DaemonClient client;
  Document doc = status_document(client.status(service));
  if (doc["state"] == "plugin-crashed") doc["message"] = crashed_plugin_message(client, service);
  print(std::cout, Document{{service, doc}}, in.format);
}

// Runs one of the long operations with its progress, then prints a summary
// made by `summary` (YAML: one line), or the service's status (JSON).
void long_operation(const Invocation& in, DaemonClient& client, const char* method, std::chrono::seconds timeout,
                    const std::function<std::string(DaemonClient&)>& summary) {
  const std::string& service = in.args[0];
  Progress progress(service, in.format);
  client.watch_states([&](const StateChange& change) { progress.update(change); });
  try {
    client.call_long(method, service, timeout);
  } catch (...) {
    progress.clear();
    throw;
  }
  progress.clear();
  if (in.format == Format::Json)
    print(std::cout, Document{{service, status_document(client.status(service))}}, in.format);
  else
    std::cout << summary(client) << std::endl;
}

constexpr std::chrono::seconds package_timeout = std::chrono::hours(1);
constexpr std::chrono::seconds unit_timeout = std::chrono::minutes(5);

void install(const Invocation& in) {
  const std::string& service = in.args[0];
  DaemonClient client;
  long_operation(in, client, method::install, package_timeout, [&](DaemonClient&) { return service + ": installed"; });
}

// Called by tails-server-autostart.service at boot.
void autostart(const Invocation&) { run_autostart(std::chrono::seconds(90), unit_timeout * 4); }

void enable(const Invocation& in) {
  const std::string& service = in.args[0];
  DaemonClient client;
  long_operation(in, client, method::enable, unit_timeout, [&](DaemonClient& c) {
    ServiceDetails d = c.info(service);
    std::string line = service + ": running on 127.0.0.1:" + std::to_string(d.local_port);
    if (!d.status.address.empty())
      line += ", onion service " + d.status.address + ":" + std::to_string(d.virtual_port) +
              (d.status.published ? "" : " (being published)");
    return line;
  });
}

void disable(const Invocation& in) {
  const std::string& service = in.args[0];
  DaemonClient client;
  long_operation(in, client, method::disable, unit_timeout, [&](DaemonClient&) { return service + ": stopped"; });
}

void uninstall(const Invocation& in) {
  const std::string& service = in.args[0];
  bool terminal = isatty(STDIN_FILENO) == 1;
  if (!in.yes && !terminal)
    throw UsageError("uninstall removes " + service +
                     "'s data, settings and onion address; standard input is not a terminal to ask, so "
                     "pass --yes to confirm");
  DaemonClient client;
  client.status(service);  // no such service: say so before asking
  if (!in.yes) {
    std::cerr << "Remove " << service
              << "'s data, settings, onion address and the packages Tails Server installed for it? [y/N] "
              << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    std::transform(answer.begin(), answer.end(), answer.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (answer != "y" && answer != "yes") throw ClientError(ErrorKind::failed, "nothing was removed");
  }
  long_operation(in, client, method::uninstall, package_timeout,
                 [&](DaemonClient&) { return service + ": uninstalled"; });
}

void monitor(const Invocation& in) {
  std::string service = in.args.empty() ? "" : in.args[0];
  DaemonClient client;
  // Subscribe first, so that no change between the checks below and the loop is lost.
  client.watch_states([&](const StateChange& change) {
    if (!service.empty() && change.service != service) return;
    if (in.format == Format::Json)
      std::cout << change_document(change).dump() << std::endl;
    else
      std::cout << describe(change) << std::endl;
  });
  if (service.empty())
    client.ping();
  else
    client.status(service);  // no such service?
  client.monitor();
}

void get_option(const Invocation& in) {
  const std::string &service = in.args[0], &name = in.args[1];
  DaemonClient client;
  std::vector<Option> options = client.options(service);
  std::string value = client.get_option(service, name);
  const Option* o = find_option(options, name);
  Document doc = Document::object();
  doc[name] = o ? typed(o->type, false, value) : Document(value);
  print(std::cout, doc, in.format);
}

// Prints "option: value" after a change, masking a secret, and the
// daemon's warning on standard error.
void print_changed(DaemonClient& client, const Invocation& in, const OptionChange& change) {
  const std::string &service = in.args[0], &name = in.args[1];
  std::vector<Option> options = client.options(service);
  const Option* o = find_option(options, name);
  Document doc = Document::object();
  doc[name] = o ? typed(o->type, o->secret, o->secret ? o->value : change.value) : Document(change.value);
  print(std::cout, doc, in.format);
  if (!change.warning.empty()) std::cerr << "Warning: " << one_line(change.warning) << '\n';
}

void set_option(const Invocation& in) {
  const std::string &service = in.args[0], &name = in.args[1];
  DaemonClient client;
  // Without VALUE, the value (typically a password) comes from standard input.
  std::string value = in.args.size() > 2 ? in.args[2] : read_secret("New value of " + service + " " + name);
  OptionChange change = client.set_option(service, name, value);
  wipe_secret(value);
  print_changed(client, in, change);
}

void reset_option(const Invocation& in) {
  DaemonClient client;
  OptionChange change = client.reset_option(in.args[0], in.args[1]);
  print_changed(client, in, change);
}

void configure(const Invocation& in) {
  DaemonClient client;
  client.configure(in.args[0]);
}

void run(const Invocation& in) {
  const std::string &service = in.args[0], &command = in.args[1];
  std::vector<std::string> arguments(in.args.begin() + 2, in.args.end());
  DaemonClient client;
  ServiceDetails d = client.info(service);
  auto it = std::find_if(d.commands.begin(), d.commands.end(),
                         [&](const Command& c) { return c.name == command; });
  std::string secret;
  if (it != d.commands.end() && it->reads_secret)
    secret = read_secret("Password for " + service + " " + command);
  std::string message = client.run_command(service, command, arguments, secret);
  print(std::cout, Document{{"message", message}}, in.format);
}

bool is_password(const std::string& label, const std::string& value) {
  std::string lower = label;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return !value.empty() && (lower.find("password") != std::string::npos ||
                            lower.find("passphrase") != std::string::npos);
}

void connection_info(const Invocation& in) {
  const std::string& service = in.args[0];
  DaemonClient client;
  ConnectionInfo c = client.connection_info(service);
  // The QR code holds the address and port only: a secret drawn on screen is
  // easy to photograph, so a password stays text to share separately.
  std::string qr_text, qr;
  if (in.qr) {
    ServiceDetails d = client.info(service);
    if (d.status.address.empty())
      throw ClientError(ErrorKind::failed, service +
                                              " has no onion address yet, so there is no QR code to show; "
                                              "enable it or import a key first (or leave out --qr)");
    qr_text = d.status.address + ":" + std::to_string(d.virtual_port);
    namespace qr_code = tails_server::qr;
    qr = qr_code::qr_code_utf8(qr_text, in.dark_terminal ? qr_code::QrTerminal::light_on_dark
                                                         : qr_code::QrTerminal::dark_on_light);
  }
  bool has_password = false;
  Document s = Document::object();
  for (const auto& [label, value] : c.fields) {
    // A port is a number, as in info; every other field is text, whatever it looks like.
    s[label] = label == "port" ? typed("port", false, value) : Document(value);
    has_password = has_password || is_password(label, value);
  }
  s["instructions"] = c.instructions;
  if (in.qr && in.format == Format::Json) {
    s["qr-text"] = qr_text;
    s["qr"] = qr;
  }
  print(std::cout, Document{{service, s}}, in.format);
  for (auto& field : c.fields) wipe_secret(field.second);
  if (in.qr && in.format == Format::Yaml) {
    std::cout << "\nQR code of " << qr_text << ":\n" << qr;
    if (has_password) std::cout << "The password is shown above; share it separately.\n";
  }
}

// "client add SVC NAME": the credential, shown once.
void client_add(const Invocation& in, DaemonClient& client) {
  const std::string &service = in.args[1], &name = in.args[2];
  Credential c = client.add_client(service, name);
  print(std::cout,
        Document{{"client", c.name},
                 {"address", c.address},
                 {"tor-browser-key", c.tor_browser_key},
                 {"auth-private", c.auth_private},
                 {"onion-client-auth-add", c.onion_client_auth_add}},
        in.format);
  std::cout << std::flush;
  wipe_secret(c.tor_browser_key);
  wipe_secret(c.auth_private);
  wipe_secret(c.onion_client_auth_add);
  std::cerr << "Give this to " << one_line(name)
            << " privately; it is not stored and cannot be shown again. Tor Browser asks for the key when it "
               "first opens the address.\n";
}

void client(const Invocation& in) {
  const std::string& action = in.args[0];
  std::size_t wanted = action == "list" ? 2 : 3;
  if ((action != "add" && action != "remove" && action != "list") || in.args.size() != wanted)
    throw UsageError("usage: tails-server client add SVC NAME | client remove SVC NAME | client list SVC");
  const std::string& service = in.args[1];
  DaemonClient daemon;
  if (action == "add") return client_add(in, daemon);
  if (action == "remove") {
    daemon.remove_client(service, in.args[2]);
    print(std::cout, Document{{"removed", in.args[2]}}, in.format);
    return;
  }
  print(std::cout, Document{{service, {{"clients", strings(daemon.list_clients(service))}}}}, in.format);
}

void import_key(const Invocation& in) {
  const std::string& service = in.args[0];
  std::string key = read_key_file(in.args[1]);
  DaemonClient client;
  std::string address;
  try {
    address = client.import_key(service, key);
  } catch (...) {
    wipe_secret(key);
    throw;
  }
  wipe_secret(key);
  print(std::cout, Document{{"address", address}}, in.format);
}

}  // namespace

const std::vector<Verb>& verbs() {
  static const std::vector<Verb> table = {
      {"list", "list [--all]", "list the services; --all adds every plugin file, the SDK version it was built against, and why any was refused",
       0, 0, list, {"all"}},
      {"info", "info SVC [--details]",
       "show a service and its options; --details adds types, accepted values and more", 1, 1, info,
       {"details"}},
      {"status", "status SVC",
       "show a service's state and whether it is installed, running, published and enabled", 1, 1, status},
      {"install", "install SVC", "install the service's packages and set it up (shows progress)", 1, 1,
       install},
      {"enable", "enable SVC", "start the service and publish it as an onion service", 1, 1, enable},
      {"disable", "disable SVC", "stop the service and withdraw its onion service", 1, 1, disable},
      {"uninstall", "uninstall SVC [--yes]",
       "remove the service's data, settings, onion address and the packages installed for it; asks "
       "first unless --yes",
       1, 1, uninstall, {"yes"}},
      {"autostart", "autostart",
       "enable every service marked autostart (run at boot by tails-server-autostart.service)", 0, 0,
       autostart},
      {"monitor", "monitor [SVC]",
       "print every state change (of SVC, or of all services) as it happens, until interrupted", 0, 1,
       monitor},
      {"get-option", "get-option SVC OPT", "print an option's value (a secret needs authorization)", 2, 2,
       get_option},
      {"set-option", "set-option SVC OPT [VALUE]",
       "change an option; without VALUE it is read from standard input (use this for passwords); an enabled "
       "service restarts to apply it",
       2, 3,
       set_option},
      {"reset-option", "reset-option SVC OPT", "set an option back to its default", 2, 2, reset_option},
      {"configure", "configure SVC", "write the service's configuration files", 1, 1, configure},
      {"run", "run SVC COMMAND [ARGS...]",
       "run one of the service's commands; a password it needs is read from standard input", 2, SIZE_MAX,
       run},
      {"connection-info", "connection-info SVC [--qr [--dark-terminal]]",
       "show what clients need to connect (holds secrets); --qr adds a QR code of the address and port "
       "(never of a password)",
       1, 1, connection_info, {"qr", "dark-terminal"}},
      {"client", "client add|remove|list SVC [NAME]",
       "client authorization: add a client NAME and print its key once, remove a client (the onion is "
       "published again without it), or list the clients' names",
       2, 3, client},
      {"plugin", "plugin retry NAME",
       "load again a plugin put aside after it crashed tails-serverd (NAME: its name, or its file when the "
       "crash came before its name was known)",
       2, 2, plugin},
      {"import-key", "import-key SVC FILE",
       "give the service the onion address of a key file (tor's hs_ed25519_secret_key, or an ED25519-V3: "
       "key); FILE may be - for standard input; the service must be disabled",
       2, 2, import_key},
  };
  return table;
}


}  // namespace tails_server::cli
