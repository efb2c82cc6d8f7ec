// The toolkit's floor for bench/gui_bench.py: an empty gtkmm 4 window that,
// like tails-server-gui with TAILS_SERVER_GUI_EXIT_WHEN_FILLED, prints its
// RSS after its first frame and quits. The GUI's own cost is the difference.
#include "print_rss.h"

#include <gtkmm.h>

namespace {

class Window : public Gtk::ApplicationWindow {
 public:
  Window() {
    set_default_size(640, 720);
    label_.set_text("Tails Server");
    set_child(label_);
    add_tick_callback([this](const Glib::RefPtr<Gdk::FrameClock>&) {
      tails_server::gui::print_rss();
      get_application()->quit();
      return false;
    });
  }

 private:
  Gtk::Label label_;
};

}  // namespace

int main(int, char** argv) {
  auto app = Gtk::Application::create("org.boum.tails.Server.GuiFloor", Gio::Application::Flags::NON_UNIQUE);
  return app->make_window_and_run<Window>(1, argv);
}
