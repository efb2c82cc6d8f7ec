#include "service_page.h"

#include "accessible.h"
#include "dialogs.h"
#include "i18n.h"
#include "qr_picture.h"
#include "state_words.h"

#include "dbus/contract.h"

namespace tails_server::gui {
namespace {

Gtk::Label* text_label(const std::string& text, const char* css = nullptr) {
  auto* label = Gtk::make_managed<Gtk::Label>(text);
  label->set_xalign(0);
  label->set_wrap(true);
  label->set_max_width_chars(60);
  if (css) label->add_css_class(css);
  return label;
}

// Removes every child of a Gtk::Box or Gtk::ListBox.
template <class Container>
void clear(Container& container) {
  while (auto* child = container.get_first_child()) container.remove(*child);
}

}  // namespace

ServicePage::ServicePage(client::AsyncClient& client, Gtk::Window& window, const std::string& name,
                         std::function<void()> removed)
    : client_(client), window_(window), name_(name), shown_name_(name), removed_(std::move(removed)) {
  page_.set_margin(18);
  icon_.set_pixel_size(64);
  icon_.set_from_icon_name("network-server-symbolic");
  title_.add_css_class("title-1");
  title_.set_xalign(0);
  state_.set_xalign(0);
  description_.set_xalign(0);
  description_.set_wrap(true);
  set_accessible_label(state_, _("State"));
  heading_text_.append(title_);
  heading_text_.append(state_);
  heading_text_.append(description_);
  heading_.append(icon_);
  heading_.append(heading_text_);
  page_.append(heading_);

  show_details_.set_label(_("Show Connection Details"));
  show_details_.signal_clicked().connect([this] { load_connection_info(); });
  qr_.set_can_shrink(false);
  qr_.set_halign(Gtk::Align::START);
  set_accessible_label(qr_, _("QR code of the onion address"));
  page_.append(section(_("Connection"), connection_));

  client_list_.add_css_class("boxed-list");
  client_list_.set_selection_mode(Gtk::SelectionMode::NONE);
  set_accessible_label(client_list_, _("Clients"));
  add_client_.set_label(_("Add a Client…"));
  add_client_.set_halign(Gtk::Align::START);
  add_client_.signal_clicked().connect([this] { add_client(); });
  clients_.append(*text_label(_("Only the clients you add here can reach the service through its onion address. "
                                "Each gets a key of their own, which you can take back.")));
  clients_.append(client_list_);
  clients_.append(add_client_);
  page_.append(section(_("Clients"), clients_));

  service_options_ = std::make_unique<OptionForm>(client_, window_, name_, std::set<std::string>{"service", "onion"});
  tails_options_ = std::make_unique<OptionForm>(client_, window_, name_, std::set<std::string>{"tails"});
  page_.append(section(_("Settings"), *service_options_));
  page_.append(section(_("Tails"), *tails_options_));
  page_.append(section(_("Commands"), commands_));
  page_.append(section(_("Help"), documentation_));

  uninstall_.set_label(_("Remove This Service…"));
  uninstall_.add_css_class("destructive-action");
  uninstall_.set_halign(Gtk::Align::START);
  uninstall_.signal_clicked().connect([this] { uninstall(); });
  danger_.append(uninstall_);
  page_.append(section(_("Remove"), danger_));

  set_child(page_);
  set_vexpand(true);
  load();
}

Gtk::Box& ServicePage::section(const std::string& title, Gtk::Box& body) {
  auto* box = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 6);
  auto* heading = Gtk::make_managed<Gtk::Label>(title);
  heading->set_xalign(0);
  heading->add_css_class("title-4");
  box->append(*heading);
  body.add_css_class("card");
  body.add_css_class("ts-section");
  body.set_margin_top(2);
  auto* padded = &body;
  padded->set_spacing(8);
  box->append(*padded);
  return *box;
}

void ServicePage::load() {
  client_.info(name_, lifetime_.guard([this](client::Reply<dbus::ServiceDetails> reply) {
    if (!reply.ok()) return state_.set_text(error_in_words(*reply.error));
    show_details(*reply.value);
  }));
  reload_options();
  load_clients();
}

void ServicePage::reload_options() {
  client_.describe_options(name_, lifetime_.guard([this](client::Reply<dbus::OptionFormList> reply) {
    if (!reply.ok()) return;
    service_options_->show(*reply.value);
    tails_options_->show(*reply.value);
  }));
}

void ServicePage::on_state_changed(const dbus::StateChange& change) {
  if (change.state == "failed") {
    state_.set_text(Glib::ustring::compose(_("Failed: %1"), change.message).raw());
    return;
  }
  state_.set_text(state_in_words(change.state, change.percent));
  if (change.percent < 0) {
    client_.info(name_, lifetime_.guard([this](client::Reply<dbus::ServiceDetails> reply) {
      if (reply.ok()) show_details(*reply.value);
    }));
  }
}

void ServicePage::show_details(const dbus::ServiceDetails& d) {
  details_ = d;
  shown_name_ = d.name_in_gui.empty() ? d.name : d.name_in_gui;
  title_.set_text(shown_name_);
  state_.set_text(state_in_words(d.status.state, -1, d.status.tor));
  description_.set_text(d.description);
  if (!d.icon_name.empty() && Gtk::IconTheme::get_for_display(get_display())->has_icon(d.icon_name))
    icon_.set_from_icon_name(d.icon_name);
  show_connection(d);

  clear(commands_);
  commands_.set_visible(!d.commands.empty());
  if (auto* parent = commands_.get_parent()) parent->set_visible(!d.commands.empty());
  for (const auto& command : d.commands) {
    auto* line = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 12);
    auto* button = Gtk::make_managed<Gtk::Button>(command.description.empty() ? command.name : command.description);
    set_accessible_label(*button, command.name);
    button->signal_clicked().connect([this, command] { run_command(command); });
    line->append(*button);
    commands_.append(*line);
  }

  clear(documentation_);
  if (!d.documentation.empty()) {
    std::string uri = d.documentation.find("://") == std::string::npos ? "file://" + d.documentation : d.documentation;
    auto* link = Gtk::make_managed<Gtk::LinkButton>(uri, Glib::ustring::compose(_("How to use %1"), shown_name_));
    link->set_halign(Gtk::Align::START);
    documentation_.append(*link);
  }
}

void ServicePage::show_connection(const dbus::ServiceDetails& d) {
  std::string app = d.client_application_in_gui.empty() ? d.client_application : d.client_application_in_gui;
  // Rebuilt only when what it shows changes: a rebuild on each state change took the keyboard focus from its
  // Copy buttons (and, right after a client was added, destroyed the widgets that screen readers were reading).
  std::string shown = d.status.address + '\n' + std::to_string(d.virtual_port) + '\n' + app;
  if (shown == connection_shown_) return;
  connection_shown_ = shown;
  clear(connection_);
  address_ = d.status.address;
  if (address_.empty()) {
    connection_.append(*text_label(_("The service gets its onion address when you turn it on.")));
    return;
  }
  if (!app.empty())
    connection_.append(*text_label(Glib::ustring::compose(_("People connect with %1, through Tor."), app).raw()));
  append_copyable(connection_, _("Onion address"), address_);
  append_copyable(connection_, _("Port"), std::to_string(d.virtual_port));
  try {
    qr_.set_paintable(qr_texture(address_ + ":" + std::to_string(d.virtual_port)));
    connection_.append(qr_);
  } catch (const std::exception&) {
    // No QR code: the address is above.
  }
  connection_.append(connection_details_);
  connection_.append(show_details_);
}

void ServicePage::load_connection_info() {
  client_.connection_info(name_, lifetime_.guard([this](client::Reply<dbus::ConnectionInfo> reply) {
    if (!reply.ok()) return show_error(window_, _("Cannot show the connection details"), *reply.error);
    clear(connection_details_);
    for (const auto& [label, value] : reply.value->fields) {
      bool secret = label.find("assword") != std::string::npos;
      append_copyable(connection_details_, label, value, secret);
    }
    if (!reply.value->instructions.empty()) connection_details_.append(*text_label(reply.value->instructions));
    show_details_.set_visible(false);
  }));
}

void ServicePage::load_clients() {
  client_.list_clients(name_, lifetime_.guard([this](client::Reply<std::vector<std::string>> reply) {
    clear(client_list_);
    if (!reply.ok()) {
      if (reply.error->kind() == client::ErrorKind::access_denied) {
        auto* show = Gtk::make_managed<Gtk::Button>(_("Show the Clients"));
        show->signal_clicked().connect([this] { load_clients(); });
        client_list_.append(*show);
      }
      return;
    }
    for (const auto& client_name : *reply.value) {
      auto* line = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 12);
      line->set_margin(8);
      auto* label = Gtk::make_managed<Gtk::Label>(client_name);
      label->set_hexpand(true);
      label->set_xalign(0);
      auto* remove = Gtk::make_managed<Gtk::Button>(_("Remove"));
      set_accessible_label(*remove, Glib::ustring::compose(_("Remove client %1"), client_name).raw());
      remove->signal_clicked().connect([this, client_name] { remove_client(client_name); });
      line->append(*label);
      line->append(*remove);
      client_list_.append(*line);
    }
  }));
}

void ServicePage::add_client() {
  ask_text(window_, _("Add a Client"), _("Client name"), _("Add"), [this](const std::string& client_name) {
    client_.add_client(name_, client_name, lifetime_.guard([this](client::Reply<dbus::Credential> reply) {
      if (!reply.ok()) return show_error(window_, _("Cannot add the client"), *reply.error);
      show_credential(window_, shown_name_, *reply.value);
      load_clients();
    }));
  });
}

void ServicePage::remove_client(const std::string& client_name) {
  confirm(window_, Glib::ustring::compose(_("Remove client %1?"), client_name).raw(),
          _("Their key stops working at once: they can no longer reach the service. Other clients keep theirs."),
          _("Remove"), true, [this, client_name] {
            client_.remove_client(name_, client_name, lifetime_.guard([this](client::Reply<client::Nothing> reply) {
              if (!reply.ok()) show_error(window_, _("Cannot remove the client"), *reply.error);
              load_clients();
            }));
          });
}

void ServicePage::run_command(const dbus::Command& command) {
  // One field per argument, and a password field if the command reads one.
  auto* window = new_modal_window(window_, command.description.empty() ? command.name : command.description);
  auto* box = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 8);
  box->set_margin(18);
  box->append(*text_label(window->get_title(), "title-3"));
  std::vector<Gtk::Entry*> entries;
  for (const auto& argument : command.arguments) {
    auto* entry = Gtk::make_managed<Gtk::Entry>();
    entry->set_placeholder_text(argument);
    set_accessible_label(*entry, argument);
    box->append(*entry);
    entries.push_back(entry);
  }
  Gtk::PasswordEntry* secret = nullptr;
  if (command.reads_secret) {
    secret = Gtk::make_managed<Gtk::PasswordEntry>();
    secret->set_show_peek_icon(true);
    secret->property_placeholder_text() = _("Password");
    set_accessible_label(*secret, _("Password"));
    box->append(*secret);
  }
  auto* buttons = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 6);
  buttons->set_halign(Gtk::Align::END);
  auto* cancel = Gtk::make_managed<Gtk::Button>(_("Cancel"));
  auto* run = Gtk::make_managed<Gtk::Button>(_("Run"));
  run->add_css_class("suggested-action");
  cancel->signal_clicked().connect([window] { window->hide(); });
  run->signal_clicked().connect([this, window, entries, secret, command] {
    std::vector<std::string> arguments;
    for (auto* entry : entries) arguments.push_back(entry->get_text());
    std::string password = secret ? std::string(secret->get_text()) : std::string();
    window->hide();
    client_.run_command(name_, command.name, arguments, password,
                        lifetime_.guard([this](client::Reply<std::string> reply) {
                          if (!reply.ok()) return show_error(window_, _("The command failed"), *reply.error);
                          show_message(window_, _("Done"), *reply.value);
                        }));
  });
  buttons->append(*cancel);
  buttons->append(*run);
  box->append(*buttons);
  window->set_child(*box);
  window->present();
}

void ServicePage::uninstall() {
  std::string details = Glib::ustring::compose(
      _("This removes %1's packages and deletes its data, its settings, its clients' keys and its onion "
        "address%2. People who connect to it will no longer find it, and a new address is made if you add it "
        "again. This cannot be undone."),
      shown_name_, address_.empty() ? std::string() : " (" + address_ + ")");
  confirm(window_, Glib::ustring::compose(_("Remove %1?"), shown_name_).raw(), details, _("Remove"), true, [this] {
    uninstall_.set_sensitive(false);
    client_.long_operation(dbus::method::uninstall, name_,
                           lifetime_.guard([this](client::Reply<client::Nothing> reply) {
                             uninstall_.set_sensitive(true);
                             if (!reply.ok()) return show_error(window_, _("Cannot remove the service"), *reply.error);
                             removed_();
                           }));
  });
}

}  // namespace tails_server::gui
