// A plugin whose name is its file's name, so one build can stand for many
// plugins: the benchmark copies it to bench-001.so ... bench-200.so.
#include <tails_server/plugin.h>

#include <dlfcn.h>

#include <filesystem>

namespace {

char plugin_name[64] = "bench";

// Runs at dlopen, before the host reads the info struct. The host loads
// /proc/self/fd/N, a link to the file.
__attribute__((constructor)) void name_from_file() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&name_from_file), &info) && info.dli_fname) {
    std::error_code error;
    std::filesystem::path file = std::filesystem::read_symlink(info.dli_fname, error);
    if (error) file = info.dli_fname;
    std::string stem = file.stem().string();
    stem.copy(plugin_name, sizeof plugin_name - 1);
    plugin_name[std::min(stem.size(), sizeof plugin_name - 1)] = '\0';
  }
}

class GeneratedService : public tails_server::TailsService {
 public:
  GeneratedService() {
    using namespace tails_server;
    name = plugin_name;
    description = "A generated service for benchmarks";
    client_application = "none";
    documentation = "https://example.invalid/bench";
    packages = {"coreutils"};
    systemd_service = name + ".service";
    default_local_port = 20000;
    icon_name = "network-server";
    options = {std::make_shared<SecretOption>("password", "Password", 20),
               std::make_shared<StringOption>("motd", "Message", "hello")};
  }
};

}  // namespace

extern "C" TAILS_SERVER_EXPORT const tails_server_plugin_info tails_server_plugin_info_v1 = {
    TAILS_SERVER_PLUGIN_MAGIC, TAILS_SERVER_API_MAJOR, TAILS_SERVER_API_MINOR, TAILS_SERVER_ABI_TAG,
    plugin_name};

namespace bench_factory {
std::unique_ptr<tails_server::TailsService> create() { return std::make_unique<GeneratedService>(); }
}  // namespace bench_factory
BOOST_DLL_ALIAS(bench_factory::create, tails_server_create_service)
