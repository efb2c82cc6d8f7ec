// The toolkit's floor for bench/gui_bench.py: an empty gtkmm 4 window that,
// like tails-server-gui with TAILS_SERVER_GUI_EXIT_WHEN_FILLED, prints its
// RSS after its first frame and quits. The GUI's own cost is the difference.
#include <gtkmm.h>

#include <fstream>
#include <iostream>
#include <string>

namespace {

class Window : public Gtk::ApplicationWindow {
 public:
  Window() {
    set_default_size(640, 720);
    label_.set_text("Tails Server");
    set_child(label_);
    add_tick_callback([this](const Glib::RefPtr<Gdk::FrameClock>&) {
      std::ifstream status("/proc/self/status");
      std::string line;
      while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) std::cout << "filled " << line << std::endl;
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
