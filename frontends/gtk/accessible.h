// Accessible names for controls whose visible text does not name them (a
// switch, an icon button): screen readers and the dogtail tests use them.
#pragma once

#include <gtkmm/widget.h>

#include <string>

namespace tails_server::gui {

inline void set_accessible_label(Gtk::Widget& widget, const std::string& label) {
  gtk_accessible_update_property(GTK_ACCESSIBLE(widget.gobj()), GTK_ACCESSIBLE_PROPERTY_LABEL, label.c_str(), -1);
}

}  // namespace tails_server::gui
