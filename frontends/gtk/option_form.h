// A form for a service's options, built from DescribeOptions: a boolean is a
// switch, an integer or port a bounded spin button, an enum a drop-down, a
// string an entry, a secret a password entry with Show and Generate new, a
// read-only value a label with Copy. A risky change (client authorization
// off, LAN access on, autostart without persistence) is confirmed first; the
// daemon's refusal appears under the field it concerns.
#pragma once

#include "async_client.h"

#include "lifetime.h"

#include <gtkmm.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace tails_server::gui {

class OptionForm : public Gtk::Box {
 public:
  // The options of `groups` ("service", "onion", "tails").
  OptionForm(client::AsyncClient& client, Gtk::Window& window, const std::string& service,
             std::set<std::string> groups);

  void show(const dbus::OptionFormList& forms);

 private:
  struct Field {
    dbus::OptionForm form;
    Gtk::Label* error = nullptr;
    std::function<void(const std::string&)> set_shown;  // shows a value the daemon confirmed
  };
  void add_field(const dbus::OptionForm& form);
  // Sends `value` (after a confirmation if it is risky); the field shows the
  // outcome.
  void change(const std::string& option, const std::string& value);
  void send(const std::string& option, const std::string& value);
  void reset(const std::string& option);
  // The warning to confirm before `option` takes `value`, or "".
  std::string risk_of(const std::string& option, const std::string& value) const;
  void show_error(Field& field, const client::ClientError& error);

  client::AsyncClient& client_;
  Gtk::Window& window_;
  std::string service_;
  std::set<std::string> groups_;
  std::map<std::string, Field> fields_;
  std::map<std::string, std::string> values_;
  Lifetime lifetime_;  // last: destroyed first
};

}  // namespace tails_server::gui
