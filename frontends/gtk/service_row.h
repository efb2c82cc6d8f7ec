// One service in the main window's list: its icon, its name in the GUI, its
// state in words (with a progress bar and a spinner while an operation runs)
// and a switch that enables or disables it.
#pragma once

#include "dbus/messages.h"

#include <gtkmm.h>

#include <functional>
#include <string>

namespace tails_server::gui {

class ServiceRow : public Gtk::ListBoxRow {
 public:
  // `toggled(on)` is called when the user flips the switch (never when the
  // row follows a state change).
  ServiceRow(const std::string& name, std::function<void(bool)> toggled, std::function<void()> opened);

  const std::string& name() const { return name_; }
  const std::string& state() const { return state_; }
  void set_details(const dbus::ServiceDetails& details);
  // The name in the GUI, before the details come.
  void set_shown_name(const std::string& shown);
  // The state from ListServices, GetStatus or StateChanged.
  void set_state(const std::string& state, int percent, const std::string& tor);
  // A call on the service runs (the switch waits, a spinner turns).
  void set_busy(bool busy);

 private:
  std::string name_;
  std::function<void(bool)> toggled_;
  bool following_ = false;  // the switch moves because of a state, not the user
  bool busy_ = false;
  std::string state_;
  Gtk::Box box_{Gtk::Orientation::HORIZONTAL, 12};
  Gtk::Image icon_;
  Gtk::Box text_{Gtk::Orientation::VERTICAL, 2};
  Gtk::Label title_, state_label_;
  Gtk::ProgressBar progress_;
  Gtk::Spinner spinner_;
  Gtk::Switch switch_;
  Gtk::Button open_;
};

}  // namespace tails_server::gui
