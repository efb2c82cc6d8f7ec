// The HTML pages. Every text from the configuration or a guest is escaped (text.h); no inline script or
// style, so the Content-Security-Policy can forbid both.
#pragma once

#include <deque>
#include <string>

#include "config.h"
#include "event.h"

namespace tails_server::chat {

// GET /: the title, the MOTD and the Join form.
std::string index_page(const Config& config);

// GET /room: the no-JavaScript iframes (stream, compose) and the WebSocket UI that chat.js shows.
std::string room_page(const Config& config);

// GET /compose: the forms (send, rename, leave), and the sentence of `error_code` if any.
std::string compose_page(const std::string& name, const std::string& error_code);

// GET /stream: the head of the never-ending page, the welcome and the history.
std::string stream_start(const Config& config, const std::string& name, const std::deque<EventPtr>& history);

// A short page with a heading and a sentence; `link_home` adds a link to / that leaves the frames.
std::string simple_page(const std::string& heading, const std::string& sentence, bool link_home);

}  // namespace tails_server::chat
