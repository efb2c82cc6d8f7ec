// The static files, compiled in (assets/, embedded by embed.cmake): the server reads no file but its config.
#pragma once

#include <string_view>

namespace tails_server::chat {

extern const std::string_view kChatJs;
extern const std::string_view kChatCss;

}  // namespace tails_server::chat
