// gettext for the GUI: _("…") marks and translates a string. The catalogue is
// "tails-server-gui" (po/tails-server-gui.pot).
#pragma once

#ifndef GETTEXT_PACKAGE
#define GETTEXT_PACKAGE "tails-server-gui"
#endif
#include <glibmm/i18n.h>
#include <glibmm/ustring.h>
