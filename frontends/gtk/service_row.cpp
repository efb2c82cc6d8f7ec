#include "service_row.h"

#include "accessible.h"
#include "i18n.h"
#include "state_words.h"

namespace tails_server::gui {

ServiceRow::ServiceRow(const std::string& name, std::function<void(bool)> toggled, std::function<void()> opened)
    : name_(name), toggled_(std::move(toggled)) {
  box_.set_margin(12);
  icon_.set_pixel_size(48);
  icon_.set_from_icon_name("network-server-symbolic");
  title_.set_xalign(0);
  title_.set_text(name);
  title_.add_css_class("heading");
  state_label_.set_xalign(0);
  state_label_.add_css_class("dim-label");
  progress_.set_visible(false);
  text_.set_hexpand(true);
  text_.set_valign(Gtk::Align::CENTER);
  text_.append(title_);
  text_.append(state_label_);
  text_.append(progress_);
  switch_.set_valign(Gtk::Align::CENTER);
  set_accessible_label(switch_, Glib::ustring::compose(_("Turn %1 on or off"), name).raw());
  switch_.property_active().signal_changed().connect([this] {
    if (following_) return;
    toggled_(switch_.get_active());
  });
  box_.append(icon_);
  box_.append(text_);
  box_.append(spinner_);
  box_.append(switch_);
  open_.set_icon_name("go-next-symbolic");
  open_.add_css_class("flat");
  open_.set_valign(Gtk::Align::CENTER);
  set_accessible_label(open_, Glib::ustring::compose(_("Open %1"), name).raw());
  open_.signal_clicked().connect(opened);
  box_.append(open_);
  set_child(box_);
  set_activatable(true);
  set_accessible_label(*this, name);
}

void ServiceRow::set_shown_name(const std::string& shown) {
  title_.set_text(shown);
  set_accessible_label(*this, shown);
  set_accessible_label(switch_, Glib::ustring::compose(_("Turn %1 on or off"), shown).raw());
  set_accessible_label(open_, Glib::ustring::compose(_("Open %1"), shown).raw());
}

void ServiceRow::set_details(const dbus::ServiceDetails& details) {
  set_shown_name(details.name_in_gui.empty() ? details.name : details.name_in_gui);
  if (!details.icon_name.empty() && Gtk::IconTheme::get_for_display(get_display())->has_icon(details.icon_name))
    icon_.set_from_icon_name(details.icon_name);
}

void ServiceRow::set_state(const std::string& state, int percent, const std::string& tor) {
  if (state == "failed") return;  // the real state follows
  state_ = state;
  state_label_.set_text(state_in_words(state, percent, tor));
  progress_.set_visible(percent >= 0 && state_is_busy(state));
  if (percent >= 0) progress_.set_fraction(percent / 100.0);
  following_ = true;
  switch_.set_active(state_is_on(state));
  following_ = false;
  set_busy(busy_);
}

void ServiceRow::set_busy(bool busy) {
  busy_ = busy;
  bool turning = busy || state_is_busy(state_);
  spinner_.set_spinning(turning);
  spinner_.set_visible(turning);
  switch_.set_sensitive(!turning);
}

}  // namespace tails_server::gui
