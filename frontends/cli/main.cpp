// tails-server: the command-line front end of tails-serverd. It holds no
// business logic: it calls the daemon over D-Bus and prints what it says.
#include "daemon_client.h"
#include "exit_codes.h"
#include "output.h"
#include "secret_input.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <charconv>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace po = boost::program_options;
using namespace tails_server::cli;

namespace {

struct Invocation {
  std::vector<std::string> args;  // after the verb
  bool all = false;
  bool details = false;
  Format format = Format::Yaml;
};

struct Verb {
  const char* name;
  const char* usage;
  const char* summary;
  std::size_t min_args;
  std::size_t max_args;  // SIZE_MAX: any number
  std::function<void(const Invocation&)> run;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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

Document address(const std::string& onion) { return onion.empty() ? Document(nullptr) : Document(onion); }

Document strings(const std::vector<std::string>& values) {
  Document list = Document::array();
  for (const auto& value : values) list.push_back(value);
  return list;
}

void list(const Invocation& in) {
  DaemonClient client;
  Document doc = Document::object();
  for (const auto& s : client.list_services())
    doc[s.name] = {{"installed", s.installed}, {"running", s.running}, {"published", s.published}};
  if (in.all) {
    for (const auto& p : client.list_plugins()) {
      if (p.state == "loaded" && doc.contains(p.name)) {
        doc[p.name]["plugin"] = p.file;
        continue;
      }
      // Refused plugins are keyed by file: a path never clashes with a name.
      Document entry = Document::object();
      entry["name"] = p.name.empty() ? Document(nullptr) : Document(p.name);
      entry["state"] = p.state;
      entry["message"] = p.message;
      doc[p.file] = entry;
    }
  }
  print(std::cout, doc, in.format);
}

void info(const Invocation& in) {
  const std::string& service = in.args[0];
  DaemonClient client;
  Details d = client.info(service);
  std::vector<Option> options = client.options(service);
  Document s = Document::object();
  s["description"] = d.description;
  s["installed"] = d.status.installed;
  s["running"] = d.status.running;
  s["published"] = d.status.published;
  s["address"] = address(d.status.address);
  s["local-port"] = d.local_port;
  s["remote-port"] = d.remote_port;
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

void status(const Invocation& in) {
  const std::string& service = in.args[0];
  DaemonClient client;
  Status st = client.status(service);
  Document s = {{"installed", st.installed}, {"running", st.running}, {"published", st.published},
                {"address", address(st.address)}};
  print(std::cout, Document{{service, s}}, in.format);
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

// Prints "option: value" after a change, masking a secret.
void print_changed(DaemonClient& client, const Invocation& in, const std::string& value) {
  const std::string &service = in.args[0], &name = in.args[1];
  std::vector<Option> options = client.options(service);
  const Option* o = find_option(options, name);
  Document doc = Document::object();
  doc[name] = o ? typed(o->type, o->secret, o->secret ? o->value : value) : Document(value);
  print(std::cout, doc, in.format);
}

void set_option(const Invocation& in) {
  const std::string &service = in.args[0], &name = in.args[1];
  DaemonClient client;
  // Without VALUE, the value (typically a password) comes from standard input.
  std::string value = in.args.size() > 2 ? in.args[2] : read_secret("New value of " + service + " " + name);
  std::string canonical = client.set_option(service, name, value);
  print_changed(client, in, canonical);
}

void reset_option(const Invocation& in) {
  DaemonClient client;
  std::string value = client.reset_option(in.args[0], in.args[1]);
  print_changed(client, in, value);
}

void configure(const Invocation& in) {
  DaemonClient client;
  client.configure(in.args[0]);
}

void run(const Invocation& in) {
  const std::string &service = in.args[0], &command = in.args[1];
  std::vector<std::string> arguments(in.args.begin() + 2, in.args.end());
  DaemonClient client;
  Details d = client.info(service);
  auto it = std::find_if(d.commands.begin(), d.commands.end(),
                         [&](const Command& c) { return c.name == command; });
  std::string secret;
  if (it != d.commands.end() && it->reads_secret)
    secret = read_secret("Password for " + service + " " + command);
  std::string message = client.run_command(service, command, arguments, secret);
  print(std::cout, Document{{"message", message}}, in.format);
}

void connection_info(const Invocation& in) {
  const std::string& service = in.args[0];
  DaemonClient client;
  Connection c = client.connection_info(service);
  Document s = Document::object();
  for (const auto& [label, value] : c.fields) s[label] = value;
  s["instructions"] = c.instructions;
  print(std::cout, Document{{service, s}}, in.format);
}

const std::vector<Verb>& verbs() {
  static const std::vector<Verb> table = {
      {"list", "list [--all]", "list the services; --all adds every plugin file and why any was refused",
       0, 0, list},
      {"info", "info SVC [--details]",
       "show a service and its options; --details adds types, accepted values and more", 1, 1, info},
      {"status", "status SVC", "show whether a service is installed, running and published", 1, 1, status},
      {"get-option", "get-option SVC OPT", "print an option's value (a secret needs authorization)", 2, 2,
       get_option},
      {"set-option", "set-option SVC OPT [VALUE]",
       "change an option; without VALUE it is read from standard input (use this for passwords)", 2, 3,
       set_option},
      {"reset-option", "reset-option SVC OPT", "set an option back to its default", 2, 2, reset_option},
      {"configure", "configure SVC", "write the service's configuration files", 1, 1, configure},
      {"run", "run SVC COMMAND [ARGS...]",
       "run one of the service's commands; a password it needs is read from standard input", 2, SIZE_MAX,
       run},
      {"connection-info", "connection-info SVC", "show what clients need to connect (holds secrets)", 1, 1,
       connection_info},
  };
  return table;
}

void print_help(const po::options_description& options) {
  std::cout << "Usage: tails-server [OPTIONS] VERB [ARGUMENTS]\n\n"
               "Manage the services of Tails Server (tails-serverd) on the system bus.\n"
               "Reading is open to everyone; changes and secrets need root or polkit authorization.\n"
               "Output is YAML, or JSON with --json.\n\nVerbs:\n";
  for (const auto& verb : verbs()) std::cout << "  " << verb.usage << "\n      " << verb.summary << '\n';
  std::cout << '\n' << options << '\n' << exit_codes_help;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()
      ("json", "print JSON instead of YAML")
      ("all", "list: also show refused plugins")
      ("details", "info: also show option types, accepted values, packages, commands")
      ("help,h", "print this help and exit")
      ("version", "print the version and exit");
  po::options_description hidden;
  hidden.add_options()
      ("verb", po::value<std::string>())
      ("args", po::value<std::vector<std::string>>());
  po::options_description all_options;
  all_options.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("verb", 1).add("args", -1);

  Invocation in;
  const Verb* verb = nullptr;
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(all_options).positional(positional).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      print_help(options);
      return ExitCode::ok;
    }
    if (vm.count("version")) {
      std::cout << "tails-server " << TAILS_SERVER_VERSION << '\n';
      return ExitCode::ok;
    }
    if (!vm.count("verb")) throw UsageError("no verb given");
    std::string name = vm["verb"].as<std::string>();
    for (const auto& candidate : verbs())
      if (name == candidate.name) verb = &candidate;
    if (!verb) throw UsageError("unknown verb '" + name + "'");
    if (vm.count("args")) in.args = vm["args"].as<std::vector<std::string>>();
    in.all = vm.count("all") > 0;
    in.details = vm.count("details") > 0;
    in.format = vm.count("json") ? Format::Json : Format::Yaml;
    if (in.all && name != "list") throw UsageError("--all goes with list only");
    if (in.details && name != "info") throw UsageError("--details goes with info only");
    if (in.args.size() < verb->min_args || in.args.size() > verb->max_args)
      throw UsageError(std::string("usage: tails-server ") + verb->usage);
  } catch (const std::exception& e) {
    std::cerr << "tails-server: " << e.what() << " (see tails-server --help)\n";
    return ExitCode::usage_error;
  }

  try {
    verb->run(in);
    return ExitCode::ok;
  } catch (const ClientError& e) {
    std::cerr << "tails-server: " << e.what() << '\n';
    return e.code();
  } catch (const std::exception& e) {
    std::cerr << "tails-server: " << e.what() << '\n';
    return ExitCode::failed;
  }
}
