"""Nothing the GUI shows is hard-coded: run in a pseudo-language whose every
translation is wrapped in ⟦ ⟧ (built from the generated .pot by
test_gui_private_bus.py), every label, button and switch name on the main
window, the chooser and a service's page is either translated (wrapped) or
comes from the daemon ($GUI_DAEMON_STRINGS: a JSON list of every string its
replies hold), or is a GTK name. Prints PASS/FAIL lines.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_driver as d  # noqa: E402
from dogtail import predicate  # noqa: E402

with open(os.environ["GUI_DAEMON_STRINGS"]) as f:
    DAEMON = set(json.load(f))
# Names GTK gives (its window buttons, translated by GTK's own catalogue),
# and plain data.
GTK = {"Minimize", "Maximize", "Close", "gtkmm__GtkImage", "GtkImage", "GtkScrollbar", "GtkRange", "GtkStackPage"}
DATA = re.compile(r"^[\d\s.:%*-]*$")
ROLES = ("label", "push button", "check box", "toggle button", "text", "spin button", "password text", "list item")


def untranslated(gui):
    found = set()
    for window in gui.windows():
        for role in ROLES:
            for node in window.findChildren(predicate.GenericPredicate(roleName=role)):
                name = node.name or ""
                if not name or "⟦" in name or name in DAEMON or name in GTK or DATA.match(name):
                    continue
                found.add("%s %r" % (role, name))
    return sorted(found)


gui = d.Gui()
d.check(d.wait_until(lambda: any("⟦" in t for t in gui.label_texts()), 15) is not None,
        "the GUI runs in the pseudo-language")
d.wait_until(lambda: len(gui.label_texts()) > 8, 10)
left = untranslated(gui)
d.check(not left, "every string of the main window is translated or the daemon's: %s" % left)
d.screenshot("pseudo-language-main-window")

open_mumble = d.wait_until(lambda: next((n for n in gui._find_all(predicate.GenericPredicate(roleName="push button"))
                                         if "Mumble" in (n.name or "") and "⟦" in n.name), None), 10)
d.check(open_mumble is not None, "Mumble's Open button has a translated name")
if open_mumble is not None:
    open_mumble.doActionNamed("click")
    d.wait_until(lambda: any("Server password" in t for t in gui.label_texts()), 10)
    left = untranslated(gui)
    d.check(not left, "every string of a service's page is translated or the daemon's: %s" % left)
    d.screenshot("pseudo-language-service-page")

print(gui.close(), flush=True)
d.finish()
