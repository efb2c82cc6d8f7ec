// tails-server-gui: the graphical front end of tails-serverd. It runs as the
// desktop user, never as root, and talks only to the daemon over D-Bus.
#include "async_client.h"
#include "bus_source.h"
#include "i18n.h"
#include "main_window.h"

#include <adwaita.h>
#include <gtkmm.h>
#include <unistd.h>

#include <clocale>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>

namespace {

constexpr const char* usage =
    "Usage: tails-server-gui [--help] [--version]\n"
    "\n"
    "Opens the Tails Server window: add, turn on, share and remove services\n"
    "(Mumble, XMPP, Gobby, a web site...) that people reach through Tor.\n"
    "Run it as the desktop user. Changes ask for the administration password\n"
    "through polkit. Needs tails-serverd (systemctl status tails-serverd).\n";

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::cout << usage;
      return 0;
    }
    if (!std::strcmp(argv[i], "--version")) {
      std::cout << "tails-server-gui " << TAILS_SERVER_VERSION << "\n";
      return 0;
    }
    std::cerr << "tails-server-gui: unknown argument '" << argv[i] << "'\n" << usage;
    return 2;
  }
  if (geteuid() == 0) {
    std::cerr << "tails-server-gui: do not run the GUI as root: run it as the desktop user. It asks for the "
                 "administration password when a change needs it.\n";
    return 1;
  }
  std::setlocale(LC_ALL, "");
  // Tests point this at a catalogue they built; it only chooses translations.
  const char* locale_dir = std::getenv("TAILS_SERVER_LOCALE_DIR");
  bindtextdomain(GETTEXT_PACKAGE, locale_dir && *locale_dir ? locale_dir : TAILS_SERVER_LOCALE_DIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);

  auto app = Gtk::Application::create("org.boum.tails.Server.Gui", Gio::Application::Flags::NON_UNIQUE);
  std::unique_ptr<tails_server::client::AsyncClient> client;
  std::unique_ptr<tails_server::gui::BusSource> source;
  app->signal_startup().connect([] {
    adw_init();
    auto css = Gtk::CssProvider::create();
    css->load_from_data(
        ".ts-section { padding: 12px; }"
        ".ts-banner { padding: 8px 12px; border-radius: 8px; }"
        ".ts-banner.warning { background-color: alpha(@warning_color, 0.12); }"
        ".ts-banner.error { background-color: alpha(@error_color, 0.12); }");
    Gtk::StyleContext::add_provider_for_display(Gdk::Display::get_default(), css,
                                                GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  });
  app->signal_activate().connect([&] {
    try {
      client = std::make_unique<tails_server::client::AsyncClient>();
    } catch (const tails_server::client::ClientError& e) {
      std::cerr << "tails-server-gui: " << e.what() << "\n";
      app->quit();
      return;
    }
    source = std::make_unique<tails_server::gui::BusSource>(*client);
    auto* window = new tails_server::gui::MainWindow(*client);
    app->add_window(*window);
    window->signal_hide().connect([window] { delete window; });
    window->present();
  });
  int status = app->run(1, argv);
  source.reset();
  client.reset();
  return status;
}
