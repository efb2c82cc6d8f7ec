#include "dialogs.h"

#include "accessible.h"
#include "i18n.h"

namespace tails_server::gui {
namespace {

// A modal window with a body and a row of buttons.
struct Dialog {
  Gtk::Window* window;
  Gtk::Box* body;
  Gtk::Box* buttons;
};

Dialog make_dialog(Gtk::Window& parent, const std::string& title) {
  auto* window = new_modal_window(parent, title);
  window->set_resizable(false);
  window->set_default_size(440, -1);
  auto* outer = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 12);
  outer->set_margin(18);
  auto* body = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 12);
  auto* buttons = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 6);
  buttons->set_halign(Gtk::Align::END);
  outer->append(*body);
  outer->append(*buttons);
  window->set_child(*outer);
  return {window, body, buttons};
}

Gtk::Label* wrapped(const std::string& text, bool heading = false) {
  auto* label = Gtk::make_managed<Gtk::Label>(text);
  label->set_wrap(true);
  label->set_max_width_chars(50);
  label->set_xalign(0);
  label->set_selectable(!heading);
  if (heading) label->add_css_class("title-3");
  return label;
}

Gtk::Button* add_button(Dialog& d, const std::string& label, const char* css = nullptr) {
  auto* button = Gtk::make_managed<Gtk::Button>(label);
  if (css) button->add_css_class(css);
  d.buttons->append(*button);
  return button;
}

}  // namespace

Gtk::Window* new_modal_window(Gtk::Window& parent, const std::string& title) {
  auto* window = new Gtk::Window;
  window->set_title(title);
  window->set_transient_for(parent);
  window->set_modal(true);
  window->set_hide_on_close(true);
  window->signal_hide().connect([window] { Glib::signal_idle().connect_once([window] { delete window; }); });
  return window;
}

void copy_to_clipboard(Gtk::Widget& widget, const std::string& text) { widget.get_clipboard()->set_text(text); }

void append_copyable(Gtk::Box& box, const std::string& label, const std::string& value, bool secret) {
  auto* row = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 6);
  auto* name = Gtk::make_managed<Gtk::Label>(label);
  name->set_xalign(0);
  name->set_size_request(140, -1);
  name->add_css_class("dim-label");
  auto* shown = Gtk::make_managed<Gtk::Label>(secret ? std::string(8, '*') : value);
  shown->set_xalign(0);
  shown->set_hexpand(true);
  shown->set_selectable(!secret);
  shown->set_wrap(true);
  shown->set_wrap_mode(Pango::WrapMode::CHAR);
  shown->set_max_width_chars(40);
  // No hyphen where an address or key wraps: it would look like part of it.
  PangoAttrList* attributes = pango_attr_list_new();
  pango_attr_list_insert(attributes, pango_attr_insert_hyphens_new(FALSE));
  gtk_label_set_attributes(shown->gobj(), attributes);
  pango_attr_list_unref(attributes);
  row->append(*name);
  row->append(*shown);
  if (secret) {
    auto* show = Gtk::make_managed<Gtk::ToggleButton>(_("Show"));
    set_accessible_label(*show, Glib::ustring::compose(_("Show %1"), label).raw());
    show->signal_toggled().connect([show, shown, value] {
      shown->set_text(show->get_active() ? value : std::string(8, '*'));
      shown->set_selectable(show->get_active());
    });
    row->append(*show);
  }
  auto* copy = Gtk::make_managed<Gtk::Button>(_("Copy"));
  set_accessible_label(*copy, Glib::ustring::compose(_("Copy %1"), label).raw());
  copy->signal_clicked().connect([copy, value] { copy_to_clipboard(*copy, value); });
  row->append(*copy);
  box.append(*row);
}

void confirm(Gtk::Window& parent, const std::string& question, const std::string& details, const std::string& action,
             bool destructive, std::function<void()> confirmed) {
  Dialog d = make_dialog(parent, question);
  d.body->append(*wrapped(question, true));
  d.body->append(*wrapped(details));
  auto* cancel = add_button(d, _("Cancel"));
  auto* go = add_button(d, action, destructive ? "destructive-action" : "suggested-action");
  cancel->signal_clicked().connect([w = d.window] { w->hide(); });
  go->signal_clicked().connect([w = d.window, confirmed] {
    w->hide();
    confirmed();
  });
  d.window->set_default_widget(*cancel);
  cancel->grab_focus();
  d.window->present();
}

void show_message(Gtk::Window& parent, const std::string& title, const std::string& text) {
  Dialog d = make_dialog(parent, title);
  d.body->append(*wrapped(title, true));
  d.body->append(*wrapped(text));
  auto* close = add_button(d, _("Close"), "suggested-action");
  close->signal_clicked().connect([w = d.window] { w->hide(); });
  close->grab_focus();
  d.window->present();
}

std::string error_in_words(const client::ClientError& error) {
  using client::ErrorKind;
  switch (error.kind()) {
    case ErrorKind::access_denied:
      return _("The administration password is needed for this, and it was not given. Nothing was changed.");
    case ErrorKind::unreachable:
      return _("Tails Server is not running. Start it in a terminal with: sudo systemctl start tails-serverd");
    case ErrorKind::daemon_stopped:
      return Glib::ustring::compose(_("Tails Server's background service stopped while doing this; it was "
                                      "restarted. A plugin probably crashed it: that plugin is put aside and "
                                      "the other services go on. Details: %1"),
                                    error.what())
          .raw();
    case ErrorKind::busy:
      return Glib::ustring::compose(_("Please wait: %1"), error.what()).raw();
    default:
      return error.what();
  }
}

void show_error(Gtk::Window& parent, const std::string& what, const client::ClientError& error) {
  show_message(parent, what, error_in_words(error));
}

void ask_text(Gtk::Window& parent, const std::string& title, const std::string& label, const std::string& action,
              std::function<void(const std::string&)> done) {
  Dialog d = make_dialog(parent, title);
  d.body->append(*wrapped(title, true));
  auto* entry = Gtk::make_managed<Gtk::Entry>();
  entry->set_placeholder_text(label);
  set_accessible_label(*entry, label);
  d.body->append(*entry);
  auto* cancel = add_button(d, _("Cancel"));
  auto* go = add_button(d, action, "suggested-action");
  cancel->signal_clicked().connect([w = d.window] { w->hide(); });
  auto submit = [w = d.window, entry, done] {
    std::string text = entry->get_text();
    if (text.empty()) return;
    w->hide();
    done(text);
  };
  go->signal_clicked().connect(submit);
  entry->signal_activate().connect(submit);
  entry->grab_focus();
  d.window->present();
}

void show_credential(Gtk::Window& parent, const std::string& service, const dbus::Credential& c) {
  std::string title = Glib::ustring::compose(_("Client %1 can now connect to %2"), c.name, service).raw();
  Dialog d = make_dialog(parent, title);
  d.window->set_default_size(560, -1);
  d.body->append(*wrapped(title, true));
  d.body->append(*wrapped(_("This key is shown only once. Give it to the person who connects, in a safe way. "
                            "In Tor Browser, paste the key when it asks for one. Other Tor clients use the "
                            ".auth_private line.")));
  append_copyable(*d.body, _("Onion address"), c.address);
  append_copyable(*d.body, _("Tor Browser key"), c.tor_browser_key);
  append_copyable(*d.body, _(".auth_private line"), c.auth_private);
  auto* done = add_button(d, _("Done"), "suggested-action");
  done->signal_clicked().connect([w = d.window] { w->hide(); });
  d.window->present();
}

}  // namespace tails_server::gui
