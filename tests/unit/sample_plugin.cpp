// A small plugin for the service manager's unit tests.
#include <tails_server/plugin.h>

#ifndef SAMPLE_PORT
#define SAMPLE_PORT 7000
#endif

namespace {

class SampleService : public tails_server::TailsService {
 public:
  SampleService() {
    using namespace tails_server;
    description = "A service for tests";
    client_application = "netcat";
    documentation = "https://example.invalid/doc";
    packages = {"coreutils"};
    systemd_service = "sample.service";
    default_local_port = SAMPLE_PORT;
    icon_name = "network-server";
    persistent_paths = {"/var/lib/sample"};
    options = {
        std::make_shared<SecretOption>("password", "Password", 16),
        std::make_shared<StringOption>("motd", "Message of the day", "hello",
                                       StringRules{.min_length = 0, .max_length = 100, .allow_newlines = true}),
        std::make_shared<IntOption>("max-users", "Most users at once", 5, 1, 10),
        std::make_shared<EnumOption>("mode", "Mode", std::vector<std::string>{"fast", "safe"}, "safe"),
        std::make_shared<PortOption>("extra-port", "A second local port", SAMPLE_PORT + 1, true),
        std::make_shared<ReadOnlyOption>(
            "motd-length", "Length of the motd",
            [](const ServiceContext& c) { return std::to_string(c.option("motd").size()); }),
    };
    commands = {{"echo", "Echo a word and the secret's length", {"word"}, true}};
  }

  void configure(tails_server::ServiceContext& context) override {
    auto& host = context.host();
    host.make_directory("/etc/sample", {"root", "root", 0755});
    host.write_file("/etc/sample/sample.conf", "motd=" + context.option("motd") + "\n", {"root", "root", 0640});
  }

  std::string run_command(tails_server::ServiceContext&, const std::string& command,
                          const std::vector<std::string>& arguments, const std::string& secret) override {
    if (arguments.at(0) == "fail") throw tails_server::HostError("asked to fail");
    return command + " " + arguments.at(0) + " " + std::to_string(secret.size());
  }
};

}  // namespace

TAILS_SERVER_PLUGIN(SampleService, SAMPLE_NAME)
