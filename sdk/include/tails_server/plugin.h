// The plugin ABI: a plain C info struct the host reads before it touches any
// C++ type, and a factory exported with Boost.DLL.
//
// A plugin's .cpp ends with one line:
//   TAILS_SERVER_PLUGIN(MumbleService, "mumble")
// which stamps the SDK's API version and ABI tag into the plugin and gives
// the service its name: the factory sets TailsService::name after the
// constructor, so a constructor never sets it. Include this header in that
// one file only: it brings Boost.DLL, which the rest of a plugin never needs.
#pragma once

#include <tails_server/service.h>
#include <tails_server/version.h>

#include <boost/dll/alias.hpp>

#include <cstdint>
#include <memory>

extern "C" {

// Read by the host with dlsym before any C++ is involved. Never change the
// layout of the fields up to plugin_name; append only.
struct tails_server_plugin_info {
  std::uint32_t magic;        // TAILS_SERVER_PLUGIN_MAGIC
  std::uint16_t api_major;    // TAILS_SERVER_API_MAJOR the plugin was built with
  std::uint16_t api_minor;    // TAILS_SERVER_API_MINOR the plugin was built with
  const char* abi_tag;        // TAILS_SERVER_ABI_TAG the plugin was built with
  const char* plugin_name;    // the service's `name`
};

}  // extern "C"

#define TAILS_SERVER_PLUGIN_MAGIC 0x54535031u  // "TSP1"
#define TAILS_SERVER_PLUGIN_INFO_SYMBOL "tails_server_plugin_info_v1"
#define TAILS_SERVER_PLUGIN_FACTORY_SYMBOL "tails_server_create_service"

namespace tails_server {
using ServiceFactory = std::unique_ptr<TailsService>();
}

#define TAILS_SERVER_PLUGIN(ServiceClass, plugin_name_literal)                                         \
  extern "C" TAILS_SERVER_EXPORT const tails_server_plugin_info tails_server_plugin_info_v1 = {        \
      TAILS_SERVER_PLUGIN_MAGIC, TAILS_SERVER_API_MAJOR, TAILS_SERVER_API_MINOR, TAILS_SERVER_ABI_TAG, \
      plugin_name_literal};                                                                            \
  namespace tails_server_plugin_factory {                                                              \
  std::unique_ptr<::tails_server::TailsService> create() {                                             \
    std::unique_ptr<::tails_server::TailsService> service = std::make_unique<ServiceClass>();          \
    service->name = plugin_name_literal;                                                               \
    return service;                                                                                    \
  }                                                                                                    \
  }                                                                                                    \
  BOOST_DLL_ALIAS(tails_server_plugin_factory::create, tails_server_create_service)
