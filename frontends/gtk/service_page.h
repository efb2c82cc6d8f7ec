// A service's page: how to connect (address and port with Copy buttons, the
// client application, a QR code, the connection details behind "Show"), its
// clients, its options (option_form.h), its commands, its documentation and
// Uninstall.
#pragma once

#include "async_client.h"
#include "option_form.h"

#include "lifetime.h"

#include <gtkmm.h>

#include <functional>
#include <memory>
#include <string>

namespace tails_server::gui {

class ServicePage : public Gtk::ScrolledWindow {
 public:
  // `removed` is called once the service was uninstalled.
  ServicePage(client::AsyncClient& client, Gtk::Window& window, const std::string& name, std::function<void()> removed);

  const std::string& name() const { return name_; }
  void on_state_changed(const dbus::StateChange& change);
  void reload_options();

 private:
  void load();
  void show_details(const dbus::ServiceDetails& details);
  void show_connection(const dbus::ServiceDetails& details);
  void load_connection_info();
  void load_clients();
  void add_client();
  void remove_client(const std::string& client_name);
  void run_command(const dbus::Command& command);
  void uninstall();
  Gtk::Box& section(const std::string& title, Gtk::Box& body);

  client::AsyncClient& client_;
  Gtk::Window& window_;
  std::string name_, shown_name_;
  std::function<void()> removed_;
  dbus::ServiceDetails details_;
  Gtk::Box page_{Gtk::Orientation::VERTICAL, 18};
  Gtk::Box heading_{Gtk::Orientation::HORIZONTAL, 12};
  Gtk::Image icon_;
  Gtk::Box heading_text_{Gtk::Orientation::VERTICAL, 4};
  Gtk::Label title_, state_, description_;
  Gtk::Box connection_{Gtk::Orientation::VERTICAL, 6};
  Gtk::Box connection_details_{Gtk::Orientation::VERTICAL, 6};
  Gtk::Button show_details_;
  Gtk::Picture qr_;
  Gtk::Box clients_{Gtk::Orientation::VERTICAL, 6};
  Gtk::ListBox client_list_;
  Gtk::Button add_client_;
  Gtk::Box commands_{Gtk::Orientation::VERTICAL, 6};
  Gtk::Box documentation_{Gtk::Orientation::VERTICAL, 6};
  Gtk::Box danger_{Gtk::Orientation::VERTICAL, 6};
  Gtk::Button uninstall_;
  std::unique_ptr<OptionForm> service_options_, tails_options_;
  std::string address_;
  std::string connection_shown_;  // what the connection section shows (address, port, client application)
  Lifetime lifetime_;  // last: destroyed first
};

}  // namespace tails_server::gui
