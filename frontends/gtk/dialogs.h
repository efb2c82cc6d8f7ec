// The GUI's dialogs: a confirmation, a message, an error from the daemon in
// words, the credential of a new client (shown once), and a field to copy.
#pragma once

#include "async_client.h"

#include <gtkmm.h>

#include <functional>
#include <string>

namespace tails_server::gui {

// A new modal window over `parent` that deletes itself once hidden (closed).
Gtk::Window* new_modal_window(Gtk::Window& parent, const std::string& title);

// Asks `question`, explaining `details`; calls `confirmed` only if the user
// chooses `action` (a destructive action is drawn in red).
void confirm(Gtk::Window& parent, const std::string& question, const std::string& details,
             const std::string& action, bool destructive, std::function<void()> confirmed);

void show_message(Gtk::Window& parent, const std::string& title, const std::string& text);

// What failed (`what`, e.g. "Cannot add the client") and why, in words.
void show_error(Gtk::Window& parent, const std::string& what, const client::ClientError& error);
std::string error_in_words(const client::ClientError& error);

// Asks for a line of text (for example a client's name); `done` gets it.
void ask_text(Gtk::Window& parent, const std::string& title, const std::string& label, const std::string& action,
              std::function<void(const std::string&)> done);

// Shows a new client's credential once, each part with a Copy button.
void show_credential(Gtk::Window& parent, const std::string& service, const dbus::Credential& credential);

// A read-only value with a Copy button: appended to `box`.
void append_copyable(Gtk::Box& box, const std::string& label, const std::string& value, bool secret = false);

// Puts `text` on the clipboard.
void copy_to_clipboard(Gtk::Widget& widget, const std::string& text);

}  // namespace tails_server::gui
