// The main window: the installed services (a row each: icon, name, state in
// words, a switch), "Add a service", the banners (daemon unreachable, Tor not
// running, plugins refused), and a service's page when a row is opened.
#pragma once

#include "async_client.h"
#include "service_row.h"

#include "lifetime.h"

#include <gtkmm.h>

#include <map>
#include <memory>
#include <string>

namespace tails_server::gui {

class ServicePage;

class MainWindow : public Gtk::ApplicationWindow {
 public:
  explicit MainWindow(client::AsyncClient& client);
  ~MainWindow() override;

 private:
  // Asks ListServices and ListPlugins again and updates everything.
  void refresh();
  void show_services(const dbus::ServiceList& services);
  void on_state_changed(const dbus::StateChange& change);
  void on_presence(bool present);
  void set_reachable(bool reachable, const std::string& why = {});
  void open_service(const std::string& name);
  void show_list();
  void show_chooser();
  void show_refused_plugins();
  void set_enabled(const std::string& name, bool on);
  // The row of `name`, made (and its details asked for) if it has none.
  ServiceRow& ensure_row(const std::string& name);

  client::AsyncClient& client_;
  Gtk::HeaderBar header_;
  Gtk::Button back_, add_;
  Gtk::Box content_{Gtk::Orientation::VERTICAL};
  // Banners: a label and a button each.
  Gtk::Box daemon_banner_, tor_banner_, plugins_banner_;
  Gtk::Label daemon_text_, tor_text_, plugins_text_;
  Gtk::Button plugins_details_;
  Gtk::Stack stack_;
  Gtk::ScrolledWindow list_scroll_;
  Gtk::Box list_box_{Gtk::Orientation::VERTICAL};
  Gtk::Label empty_;
  Gtk::ListBox services_list_;
  std::map<std::string, std::unique_ptr<ServiceRow>> rows_;
  std::unique_ptr<ServicePage> page_;
  dbus::ServiceList services_;
  dbus::PluginList plugins_;
  bool reachable_ = false;
  // The bench (bench/gui_bench.py): the service list is filled once the
  // first list and every row's details arrived.
  int details_pending_ = 0;
  bool filled_ = false;
  void on_filled();
  Lifetime lifetime_;  // last: destroyed first
};

}  // namespace tails_server::gui
