// tails-server: the command-line front end of tails-serverd. This file reads
// the command line; verbs.cpp does what it asks.
#include "crashed_plugins.h"
#include "exit_codes.h"
#include "verbs.h"

#include "error.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

namespace po = boost::program_options;
using namespace tails_server::cli;
using namespace tails_server::client;

namespace {

void print_help(const po::options_description& options) {
  std::cout << "Usage: tails-server [OPTIONS] VERB [ARGUMENTS]\n\n"
               "Manage the services of Tails Server (tails-serverd) on the system bus.\n"
               "Reading is open to everyone; changes and secrets need root or polkit authorization.\n"
               "Output is YAML, or JSON with --json.\n\nVerbs:\n";
  for (const auto& verb : verbs()) std::cout << "  " << verb.usage << "\n      " << verb.summary << '\n';
  std::cout << '\n' << options << '\n' << exit_codes_help;
}

// The verbs that take `flag`, for its usage error.
std::string verbs_taking(const std::string& flag) {
  std::string names;
  for (const auto& verb : verbs())
    if (std::find(verb.flags.begin(), verb.flags.end(), flag) != verb.flags.end())
      names += (names.empty() ? "" : " or ") + std::string(verb.name);
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()
      ("json", "print JSON instead of YAML")
      ("all", "list: also show refused plugins")
      ("details", "info: also show option types, accepted values, packages, commands")
      ("yes,y", "uninstall: do not ask for confirmation")
      ("qr", "connection-info: also draw a QR code of the address and port")
      ("dark-terminal", "connection-info --qr: draw for light text on a dark background")
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
    in.yes = vm.count("yes") > 0;
    in.qr = vm.count("qr") > 0;
    in.dark_terminal = vm.count("dark-terminal") > 0;
    in.format = vm.count("json") ? Format::Json : Format::Yaml;
    for (const char* flag : {"all", "details", "yes", "qr", "dark-terminal"})
      if (vm.count(flag) && std::find(verb->flags.begin(), verb->flags.end(), flag) == verb->flags.end())
        throw UsageError(std::string("--") + flag + " goes with " + verbs_taking(flag) + " only");
    if (in.dark_terminal && !in.qr) throw UsageError("--dark-terminal goes with connection-info --qr only");
    if (in.args.size() < verb->min_args || in.args.size() > verb->max_args)
      throw UsageError(std::string("usage: tails-server ") + verb->usage);
  } catch (const std::exception& e) {
    std::cerr << "tails-server: " << e.what() << " (see tails-server --help)\n";
    return ExitCode::usage_error;
  }

  try {
    verb->run(in);
    return ExitCode::ok;
  } catch (const UsageError& e) {
    std::cerr << "tails-server: " << e.what() << '\n';
    return ExitCode::usage_error;
  } catch (const ClientError& e) {
    std::string message = e.what();
    if (e.kind() == ErrorKind::daemon_stopped) message = explain_stop(in.args.empty() ? "" : in.args[0]);
    std::cerr << "tails-server: " << message << '\n';
    return exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "tails-server: " << e.what() << '\n';
    return ExitCode::failed;
  }
}
