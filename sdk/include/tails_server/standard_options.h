// Names of the standard options the core adds to every service.
#pragma once

namespace tails_server::standard_option {

inline constexpr const char* virtual_port = "virtual-port";   // port at the onion address
inline constexpr const char* local_port = "local-port";       // port the service binds locally
inline constexpr const char* persistence = "persistence";
inline constexpr const char* autostart = "autostart";
inline constexpr const char* allow_localhost = "allow-localhost";
inline constexpr const char* allow_lan = "allow-lan";
inline constexpr const char* client_authorization = "client-authorization";

}  // namespace tails_server::standard_option
