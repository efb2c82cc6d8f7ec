#include "main_window.h"

#include "accessible.h"
#include "dialogs.h"
#include "print_rss.h"
#include "i18n.h"
#include "service_page.h"
#include "state_words.h"

#include "dbus/contract.h"

#include <cstdlib>

namespace tails_server::gui {
namespace {

void make_banner(Gtk::Box& banner, Gtk::Label& text, const char* css) {
  banner.set_orientation(Gtk::Orientation::HORIZONTAL);
  banner.set_spacing(12);
  banner.add_css_class("ts-banner");
  banner.add_css_class(css);
  banner.set_margin(6);
  text.set_wrap(true);
  text.set_xalign(0);
  text.set_hexpand(true);
  text.set_selectable(true);
  banner.append(text);
  banner.set_visible(false);
}

}  // namespace

MainWindow::MainWindow(client::AsyncClient& client) : client_(client) {
  set_title(_("Tails Server"));
  set_default_size(640, 720);
  set_icon_name("tails-server");

  back_.set_icon_name("go-previous-symbolic");
  set_accessible_label(back_, _("Back to the services"));
  back_.set_visible(false);
  back_.signal_clicked().connect([this] { show_list(); });
  add_.set_label(_("Add a Service"));
  add_.add_css_class("suggested-action");
  add_.signal_clicked().connect([this] { show_chooser(); });
  header_.pack_start(back_);
  header_.pack_end(add_);
  set_titlebar(header_);

  make_banner(daemon_banner_, daemon_text_, "error");
  make_banner(tor_banner_, tor_text_, "warning");
  make_banner(plugins_banner_, plugins_text_, "warning");
  plugins_details_.set_label(_("Details"));
  plugins_details_.signal_clicked().connect([this] { show_refused_plugins(); });
  plugins_banner_.append(plugins_details_);
  content_.append(daemon_banner_);
  content_.append(tor_banner_);
  content_.append(plugins_banner_);

  empty_.set_text(_("No service yet. Add one to share it with your group through Tor."));
  empty_.set_wrap(true);
  empty_.add_css_class("dim-label");
  empty_.set_margin(24);
  services_list_.add_css_class("boxed-list");
  services_list_.set_selection_mode(Gtk::SelectionMode::NONE);
  set_accessible_label(services_list_, _("Services"));
  services_list_.signal_row_activated().connect([this](Gtk::ListBoxRow* row) {
    if (auto* service = dynamic_cast<ServiceRow*>(row)) open_service(service->name());
  });
  list_box_.set_margin(18);
  list_box_.set_spacing(12);
  list_box_.append(empty_);
  list_box_.append(services_list_);
  list_scroll_.set_child(list_box_);
  list_scroll_.set_vexpand(true);
  stack_.add(list_scroll_, "list");
  content_.append(stack_);
  set_child(content_);

  client_.on_state_changed(lifetime_.guard([this](const dbus::StateChange& change) { on_state_changed(change); }));
  client_.on_presence(lifetime_.guard([this](bool present) { on_presence(present); }));
  client_.on_option_changed(lifetime_.guard([this](const dbus::OptionChanged& change) {
    if (page_ && page_->name() == change.service) page_->reload_options();
  }));
  refresh();
}

MainWindow::~MainWindow() = default;

void MainWindow::refresh() {
  client_.list_services(lifetime_.guard([this](client::Reply<dbus::ServiceList> reply) {
    if (!reply.ok()) {
      if (reply.error->kind() == client::ErrorKind::unreachable) return set_reachable(false);
      return show_error(*this, _("Cannot list the services"), *reply.error);
    }
    set_reachable(true);
    show_services(*reply.value);
  }));
  client_.list_plugins(lifetime_.guard([this](client::Reply<dbus::PluginList> reply) {
    if (!reply.ok()) return;
    plugins_ = *reply.value;
    int refused = 0;
    for (const auto& p : plugins_) refused += p.state != "loaded";
    plugins_text_.set_text(Glib::ustring::compose(
        ngettext("%1 plugin could not be loaded, so its service is not offered.",
                 "%1 plugins could not be loaded, so their services are not offered.", refused),
        refused));
    plugins_banner_.set_visible(refused > 0);
  }));
}

void MainWindow::set_reachable(bool reachable, const std::string&) {
  reachable_ = reachable;
  daemon_text_.set_text(_("Tails Server's background service is not running, so your services cannot be "
                          "managed. Start it in a terminal with: sudo systemctl start tails-serverd"));
  daemon_banner_.set_visible(!reachable);
  add_.set_sensitive(reachable);
  if (!reachable) {
    tor_banner_.set_visible(false);
    show_list();
    for (auto& [name, row] : rows_) services_list_.remove(*row);
    rows_.clear();
    empty_.set_visible(false);
  }
}

void MainWindow::on_presence(bool present) {
  if (present) return refresh();
  set_reachable(false);
}

void MainWindow::show_services(const dbus::ServiceList& services) {
  services_ = services;
  bool tor_down = false;
  std::string tor_reason;
  for (const auto& s : services) {
    if (s.tor.rfind("not running", 0) == 0 && s.installed) {
      tor_down = true;
      tor_reason = s.tor;
    }
    auto it = rows_.find(s.name);
    // A row stays while its operation runs, whatever the list says meanwhile.
    bool shown = s.installed || state_is_busy(s.state) || (it != rows_.end() && state_is_busy(it->second->state()));
    if (!shown) {
      if (it != rows_.end()) {
        services_list_.remove(*it->second);
        rows_.erase(it);
      }
      continue;
    }
    // While an operation runs, StateChanged alone moves the row (with its progress).
    ServiceRow& row = ensure_row(s.name);
    if (!state_is_busy(row.state())) row.set_state(s.state, -1, s.tor);
  }
  empty_.set_visible(rows_.empty());
  services_list_.set_visible(!rows_.empty());
  if (!filled_ && details_pending_ == 0) on_filled();
  tor_text_.set_text(Glib::ustring::compose(
      _("Tor is not running, so your services cannot be reached through their onion addresses (%1). "
        "Connect to the Tor network first."),
      tor_reason));
  tor_banner_.set_visible(tor_down);
}

ServiceRow& MainWindow::ensure_row(const std::string& name) {
  auto it = rows_.find(name);
  if (it != rows_.end()) return *it->second;
  auto row = std::make_unique<ServiceRow>(
      name, [this, name](bool on) { set_enabled(name, on); }, [this, name] { open_service(name); });
  services_list_.append(*row);
  ++details_pending_;
  client_.info(name, lifetime_.guard([this, name](client::Reply<dbus::ServiceDetails> reply) {
    auto found = rows_.find(name);
    if (reply.ok() && found != rows_.end()) found->second->set_details(*reply.value);
    if (--details_pending_ == 0 && !filled_) on_filled();
  }));
  empty_.set_visible(false);
  services_list_.set_visible(true);
  return *rows_.emplace(name, std::move(row)).first->second;
}

void MainWindow::on_filled() {
  filled_ = true;
  if (!std::getenv("TAILS_SERVER_GUI_EXIT_WHEN_FILLED")) return;
  // After the next frame is drawn: print the resident memory and quit.
  add_tick_callback([this](const Glib::RefPtr<Gdk::FrameClock>&) {
    print_rss();
    get_application()->quit();
    return false;
  });
}

void MainWindow::on_state_changed(const dbus::StateChange& change) {
  auto it = rows_.find(change.service);
  if (it != rows_.end())
    it->second->set_state(change.state, change.percent, "connected");
  else if (reachable_ && state_is_busy(change.state))  // an install another client started
    ensure_row(change.service).set_state(change.state, change.percent, "connected");
  if (page_ && page_->name() == change.service) page_->on_state_changed(change);
  // A change without progress may add or remove a row, or change Tor's state.
  if (change.percent < 0) refresh();
}

void MainWindow::set_enabled(const std::string& name, bool on) {
  auto it = rows_.find(name);
  if (it != rows_.end()) it->second->set_busy(true);
  client_.long_operation(on ? dbus::method::enable : dbus::method::disable, name,
                         lifetime_.guard([this, name, on](client::Reply<client::Nothing> reply) {
                           auto found = rows_.find(name);
                           if (found != rows_.end()) found->second->set_busy(false);
                           if (!reply.ok())
                             show_error(*this, on ? _("Cannot turn the service on") : _("Cannot turn the service off"),
                                        *reply.error);
                           refresh();
                         }));
}

void MainWindow::open_service(const std::string& name) {
  page_ = std::make_unique<ServicePage>(client_, *this, name, [this] {
    show_list();
    refresh();
  });
  if (auto* old = stack_.get_child_by_name("service")) stack_.remove(*old);
  stack_.add(*page_, "service");
  stack_.set_visible_child("service");
  back_.set_visible(true);
  add_.set_visible(false);
}

void MainWindow::show_list() {
  stack_.set_visible_child("list");
  back_.set_visible(false);
  add_.set_visible(true);
  if (page_) {
    // Removed after the switch: the page may be the caller.
    Glib::signal_idle().connect_once([this] {
      if (page_ && stack_.get_visible_child_name() == "list") {
        stack_.remove(*page_);
        page_.reset();
      }
    });
  }
}

void MainWindow::show_chooser() {
  auto* window = new_modal_window(*this, _("Add a Service"));
  window->set_default_size(520, 560);
  auto open = std::make_shared<bool>(true);  // the replies below touch its widgets
  window->signal_hide().connect([open] { *open = false; });
  auto* scroll = Gtk::make_managed<Gtk::ScrolledWindow>();
  auto* box = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 12);
  box->set_margin(18);
  auto* list = Gtk::make_managed<Gtk::ListBox>();
  list->add_css_class("boxed-list");
  list->set_selection_mode(Gtk::SelectionMode::NONE);
  set_accessible_label(*list, _("Services you can add"));
  int offered = 0;
  for (const auto& s : services_) {
    if (s.installed || state_is_busy(s.state)) continue;
    ++offered;
    auto* row = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 12);
    row->set_margin(12);
    auto* icon = Gtk::make_managed<Gtk::Image>();
    icon->set_pixel_size(48);
    icon->set_from_icon_name("network-server-symbolic");
    auto* text = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 2);
    text->set_hexpand(true);
    auto* title = Gtk::make_managed<Gtk::Label>(s.name);
    title->set_xalign(0);
    title->add_css_class("heading");
    auto* description = Gtk::make_managed<Gtk::Label>(s.description);
    description->set_xalign(0);
    description->set_wrap(true);
    auto* client_app = Gtk::make_managed<Gtk::Label>();
    client_app->set_xalign(0);
    client_app->add_css_class("dim-label");
    text->append(*title);
    text->append(*description);
    text->append(*client_app);
    auto* add = Gtk::make_managed<Gtk::Button>(_("Add"));
    add->set_valign(Gtk::Align::CENTER);
    set_accessible_label(*add, Glib::ustring::compose(_("Add %1"), s.name).raw());
    add->signal_clicked().connect([this, window, title, name = s.name] {
      window->hide();
      ServiceRow& row = ensure_row(name);
      row.set_shown_name(title->get_text());
      row.set_state("installing", 0, "connected");
      client_.long_operation(dbus::method::install, name, lifetime_.guard([this](client::Reply<client::Nothing> reply) {
        if (!reply.ok()) show_error(*this, _("Cannot add the service"), *reply.error);
        refresh();
      }));
    });
    client_.info(
        s.name, lifetime_.guard([icon, title, client_app, add, open](client::Reply<dbus::ServiceDetails> reply) {
          if (!reply.ok() || !*open) return;
          const auto& d = *reply.value;
          std::string shown = d.name_in_gui.empty() ? d.name : d.name_in_gui;
          title->set_text(shown);
          set_accessible_label(*add, Glib::ustring::compose(_("Add %1"), shown).raw());
          std::string app = d.client_application_in_gui.empty() ? d.client_application : d.client_application_in_gui;
          if (!app.empty()) client_app->set_text(Glib::ustring::compose(_("People connect with %1"), app).raw());
          if (!d.icon_name.empty() && Gtk::IconTheme::get_for_display(icon->get_display())->has_icon(d.icon_name))
            icon->set_from_icon_name(d.icon_name);
        }));
    row->append(*icon);
    row->append(*text);
    row->append(*add);
    list->append(*row);
  }
  auto* intro = Gtk::make_managed<Gtk::Label>(
      offered ? _("Each service gets its own onion address. Only the people you give it to can connect.")
              : _("Every service that Tails Server offers is already added."));
  intro->set_wrap(true);
  intro->set_xalign(0);
  box->append(*intro);
  box->append(*list);
  scroll->set_child(*box);
  window->set_child(*scroll);
  window->present();
}

void MainWindow::show_refused_plugins() {
  std::string text;
  for (const auto& p : plugins_)
    if (p.state != "loaded") text += p.file + " (" + p.state + "): " + p.message + "\n\n";
  show_message(*this, _("Plugins that could not be loaded"), text);
}

}  // namespace tails_server::gui
