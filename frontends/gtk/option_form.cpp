#include "option_form.h"

#include "accessible.h"
#include "dialogs.h"
#include "i18n.h"

namespace tails_server::gui {
namespace {

// What each of the four Tails choices does and risks, in plain words.
std::string risk_line(const std::string& option) {
  if (option == "persistence")
    return _("Keeps this service's data, settings and onion address in the Persistent Storage. Without it, "
             "everything is forgotten when Tails shuts down. Risk: whoever unlocks the Persistent Storage can "
             "see that you ran this service.");
  if (option == "autostart")
    return _("Starts the service each time Tails starts, once the Persistent Storage is unlocked. Risk: it "
             "runs, and can be reached, without you turning it on.");
  if (option == "allow-localhost")
    return _("Lets programs on this computer connect directly, without Tor. Risk: any program here can "
             "reach the service.");
  if (option == "allow-lan")
    return _("Lets devices on the local network connect directly, bypassing Tor. Risk: they learn this "
             "computer's LAN address, and the network can see that it runs a server.");
  return {};
}

Gtk::Label* small_label(const std::string& text, const char* css) {
  auto* label = Gtk::make_managed<Gtk::Label>(text);
  label->set_xalign(0);
  label->set_wrap(true);
  label->set_max_width_chars(60);
  label->add_css_class(css);
  return label;
}

}  // namespace

OptionForm::OptionForm(client::AsyncClient& client, Gtk::Window& window, const std::string& service,
                       std::set<std::string> groups)
    : Gtk::Box(Gtk::Orientation::VERTICAL, 12), client_(client), window_(window), service_(service),
      groups_(std::move(groups)) {}

void OptionForm::show(const dbus::OptionFormList& forms) {
  while (auto* child = get_first_child()) remove(*child);
  fields_.clear();
  values_.clear();
  for (const auto& form : forms) {
    values_[form.option.name] = form.option.value;
    if (groups_.count(form.group)) add_field(form);
  }
}

void OptionForm::add_field(const dbus::OptionForm& form) {
  const auto& o = form.option;
  auto* box = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL, 4);
  auto* row = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 6);
  auto* label = Gtk::make_managed<Gtk::Label>(form.label);
  label->set_xalign(0);
  label->set_hexpand(true);
  label->add_css_class("heading");
  row->append(*label);
  box->append(*row);
  std::string risk = risk_line(o.name);
  box->append(*small_label(risk.empty() ? o.description : risk, "dim-label"));
  auto* error = small_label("", "error");
  error->set_visible(false);
  Field& field = fields_[o.name];
  field.form = form;
  field.error = error;
  const std::string name = o.name;

  // An entry (or spin button) with an Apply button.
  auto with_apply = [&](Gtk::Widget& input, std::function<std::string()> value) {
    set_accessible_label(input, form.label);
    input.set_hexpand(true);
    auto* line = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 6);
    line->append(input);
    auto* apply = Gtk::make_managed<Gtk::Button>(_("Apply"));
    set_accessible_label(*apply, Glib::ustring::compose(_("Apply %1"), form.label).raw());
    apply->signal_clicked().connect([this, name, value] { change(name, value()); });
    line->append(*apply);
    box->append(*line);
  };

  if (o.read_only) {
    append_copyable(*box, form.label, o.value);
  } else if (o.type == "boolean") {
    auto* toggle = Gtk::make_managed<Gtk::Switch>();
    toggle->set_valign(Gtk::Align::CENTER);
    toggle->set_active(o.value == "true");
    set_accessible_label(*toggle, form.label);
    row->append(*toggle);
    field.set_shown = [toggle](const std::string& v) { toggle->set_active(v == "true"); };
    toggle->signal_state_set().connect(
        [this, name](bool on) {
          std::string value = on ? "true" : "false";
          if (values_[name] == value) return false;  // the daemon's value: move
          change(name, value);
          return true;  // the switch moves when the daemon confirms
        },
        false);
  } else if (o.type == "integer" || o.type == "port") {
    auto* spin = Gtk::make_managed<Gtk::SpinButton>();
    spin->set_range(double(form.minimum), double(form.maximum));
    spin->set_increments(1, 10);
    spin->set_numeric(true);
    spin->set_value(std::atof(o.value.c_str()));
    field.set_shown = [spin](const std::string& v) { spin->set_value(std::atof(v.c_str())); };
    with_apply(*spin, [spin] {
      spin->update();
      return std::to_string(static_cast<long long>(spin->get_value()));
    });
  } else if (o.type == "enum") {
    auto choices = Gtk::StringList::create({});
    guint selected = 0;
    for (guint i = 0; i < form.choices.size(); ++i) {
      choices->append(form.choices[i]);
      if (form.choices[i] == o.value) selected = i;
    }
    auto* drop = Gtk::make_managed<Gtk::DropDown>(choices);
    drop->set_selected(selected);
    set_accessible_label(*drop, form.label);
    field.set_shown = [drop, choices = form.choices](const std::string& v) {
      for (guint i = 0; i < choices.size(); ++i)
        if (choices[i] == v) drop->set_selected(i);
    };
    drop->property_selected().signal_changed().connect([this, name, drop, choices = form.choices] {
      guint i = drop->get_selected();
      if (i < choices.size() && values_[name] != choices[i]) change(name, choices[i]);
    });
    box->append(*drop);
  } else if (o.secret) {
    auto* entry = Gtk::make_managed<Gtk::PasswordEntry>();
    entry->set_show_peek_icon(true);
    entry->property_placeholder_text() = _("Hidden; type a new one, or Show");
    field.set_shown = [entry](const std::string&) { entry->set_text(""); };
    with_apply(*entry, [entry] { return std::string(entry->get_text()); });
    auto* buttons = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::HORIZONTAL, 6);
    auto* reveal = Gtk::make_managed<Gtk::Button>(_("Show"));
    set_accessible_label(*reveal, Glib::ustring::compose(_("Show %1"), form.label).raw());
    auto* revealed = Gtk::make_managed<Gtk::Box>(Gtk::Orientation::VERTICAL);
    reveal->signal_clicked().connect([this, name, revealed, label = form.label] {
      client_.get_option(service_, name,
                         lifetime_.guard([this, name, revealed, label](client::Reply<std::string> reply) {
                           if (!reply.ok()) return show_error(fields_[name], *reply.error);
                           while (auto* child = revealed->get_first_child()) revealed->remove(*child);
                           append_copyable(*revealed, label, *reply.value);
                         }));
    });
    box->append(*revealed);
    buttons->append(*reveal);
    if (form.generated) {
      auto* generate = Gtk::make_managed<Gtk::Button>(_("Generate New"));
      set_accessible_label(*generate, Glib::ustring::compose(_("Generate a new %1"), form.label).raw());
      generate->signal_clicked().connect([this, name, label = form.label] {
        confirm(window_, Glib::ustring::compose(_("Generate a new %1?"), label).raw(),
                _("Everyone who connects will need the new one."), _("Generate"), false,
                [this, name] { reset(name); });
      });
      buttons->append(*generate);
    }
    box->append(*buttons);
  } else {
    auto* entry = Gtk::make_managed<Gtk::Entry>();
    entry->set_text(o.value);
    if (form.max_length) entry->set_max_length(int(form.max_length));
    field.set_shown = [entry](const std::string& v) { entry->set_text(v); };
    entry->signal_activate().connect([this, name, entry] { change(name, entry->get_text()); });
    with_apply(*entry, [entry] { return std::string(entry->get_text()); });
  }
  box->append(*error);
  append(*box);
}

std::string OptionForm::risk_of(const std::string& option, const std::string& value) const {
  auto current = [this](const std::string& name) {
    auto it = values_.find(name);
    return it == values_.end() ? std::string() : it->second;
  };
  if (option == "client-authorization" && value == "false")
    return _("Anyone who learns the onion address will be able to connect, not only the clients you added. "
             "Keep the address secret.");
  if (option == "allow-lan" && value == "true")
    return _("Devices on the local network will connect directly, bypassing Tor, and see this computer's LAN "
             "address.");
  if (option == "autostart" && value == "true" && current("persistence") != "true")
    return _("Persistence is off for this service: on Tails, its settings, autostart included, are forgotten "
             "at the next shutdown. Turn persistence on to keep them.");
  return {};
}

void OptionForm::change(const std::string& option, const std::string& value) {
  std::string risk = risk_of(option, value);
  if (risk.empty()) return send(option, value);
  const std::string label = fields_[option].form.label;
  confirm(window_, Glib::ustring::compose(_("Change %1?"), label).raw(), risk, _("Change"), true,
          [this, option, value] { send(option, value); });
}

void OptionForm::send(const std::string& option, const std::string& value) {
  fields_[option].error->set_visible(false);
  client_.set_option(service_, option, value, lifetime_.guard([this, option](client::Reply<dbus::OptionChange> reply) {
    auto it = fields_.find(option);
    if (it == fields_.end()) return;
    if (!reply.ok()) return show_error(it->second, *reply.error);
    values_[option] = reply.value->value;
    if (it->second.set_shown) it->second.set_shown(reply.value->value);
    if (!reply.value->warning.empty()) show_message(window_, _("Please note"), reply.value->warning);
  }));
}

void OptionForm::reset(const std::string& option) {
  client_.reset_option(service_, option, lifetime_.guard([this, option](client::Reply<dbus::OptionChange> reply) {
    auto it = fields_.find(option);
    if (it == fields_.end()) return;
    if (!reply.ok()) return show_error(it->second, *reply.error);
    if (it->second.set_shown) it->second.set_shown(reply.value->value);
  }));
}

void OptionForm::show_error(Field& field, const client::ClientError& error) {
  if (field.set_shown) field.set_shown(values_[field.form.option.name]);  // back to the daemon's value
  field.error->set_text(error_in_words(error));
  field.error->set_visible(true);
}

}  // namespace tails_server::gui
