#include "state_words.h"

#include "i18n.h"

#include <glib.h>

namespace tails_server::gui {

std::string state_in_words(const std::string& state, int percent, const std::string& tor) {
  auto with_percent = [percent](const char* words) {
    if (percent < 0) return std::string(words);
    // TRANSLATORS: an operation and its progress, e.g. "Installing… 45 %".
    return Glib::ustring::compose(_("%1 %2 %%"), words, percent).raw();
  };
  bool tor_down = tor.rfind("not running", 0) == 0;
  if (state == "not-installed") return _("Not installed");
  if (state == "installing") return with_percent(_("Installing…"));
  if (state == "uninstalling") return with_percent(_("Removing…"));
  if (state == "stopped") return _("Off");
  if (state == "starting") return with_percent(_("Starting…"));
  if (state == "stopping") return _("Stopping…");
  if (state == "tor-not-running" || (tor_down && (state == "announcing" || state == "online")))
    return _("Tor is not running");
  if (state == "announcing") return _("Publishing the onion address…");
  if (state == "online") return _("Online");
  if (state == "running") return _("Running");
  if (state == "stopped-unexpectedly") return _("Stopped unexpectedly");
  if (state == "failed") return _("Failed");
  // TRANSLATORS: the service's plugin crashed the daemon and is put aside; the service is left as it was.
  if (state == "plugin-crashed") return _("Plugin crashed");
  return _("Off");
}

bool state_is_busy(const std::string& state) {
  return state == "installing" || state == "uninstalling" || state == "starting" || state == "stopping";
}

bool state_is_on(const std::string& state) {
  return state == "starting" || state == "announcing" || state == "online" || state == "running" ||
         state == "tor-not-running" || state == "stopped-unexpectedly";
}

}  // namespace tails_server::gui
