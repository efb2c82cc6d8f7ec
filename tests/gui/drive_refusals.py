"""The GUI as a user whom polkit refuses, against the real tails-serverd on a
private system bus (run by test_gui_private_bus.py through gui-session):
the list fills; a refused plugin shows a banner whose Details name it; a
switch, Add a Client and Generate New are refused in words and change
nothing; the daemon stopped and started while the GUI runs makes the banner
come and go. Prints PASS/FAIL lines.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_driver as d  # noqa: E402

REFUSED_FILE = os.environ.get("REFUSED_PLUGIN", "wrong-major.so")
ADMIN_WORDS = "administration password is needed"

gui = d.Gui()
d.check(gui.find("Open Mumble", timeout=15) is not None, "the list shows Mumble with its name in the GUI")
d.check(gui.has("Turn XMPP chat (Prosody) on or off", "check box"),
        "each service has a switch with an accessible name")
d.check(bool(gui.wait_for_text("could not be loaded", 10)), "a banner says that a plugin could not be loaded")
d.check(bool(gui.wait_for_text("Tor is not running", 5)), "a banner says that Tor is not running (no tor on this bus)")
d.screenshot("main-window-refused-plugin")
gui.click("Details")
d.check(bool(gui.wait_for_text(REFUSED_FILE, 5)), "its Details name the refused file " + REFUSED_FILE)
d.screenshot("refused-plugin-details")
gui.click("Close")

# polkit refuses this user: a switch changes nothing and says why.
gui.toggle("Turn Mumble on or off")
d.check(bool(gui.wait_for_text(ADMIN_WORDS, 15)), "turning Mumble on as a refused user says the administration "
        "password is needed")
d.screenshot("refused-by-polkit")
gui.click("Close")
answer = d.ask_host("status mumble enabled")
d.check(answer == "false", "mumble is still not enabled (the daemon says enabled=%s)" % answer)
switch = gui.find("Turn Mumble on or off", "check box")
d.check(switch is not None and not switch.checked, "the switch went back to off")

CONTROLS = ("push button", "check box", "toggle button", "text", "password text", "spin button", "combo box")


def unreachable_controls():
    """(number of controls, those with no accessible name or that the
    keyboard cannot reach)."""
    controls, bad = 0, []
    for window in gui.windows():
        for node in window.findChildren(lambda n: n.roleName in CONTROLS):
            controls += 1
            if not node.name or not node.focusable:
                bad.append("%s %r%s" % (node.roleName, node.name, "" if node.focusable else " (not focusable)"))
    return controls, bad


count, left = unreachable_controls()
d.check(count >= 9 and not left, "every control of the main window (%d) has a name and takes keyboard focus: %s"
        % (count, left))
gui.open_service("Mumble")
d.check(gui.find("Add a Client…", timeout=10) is not None, "Mumble's page opens")
count, left = unreachable_controls()
d.check(count >= 20 and not left, "every control of a service's page (%d) has a name and takes keyboard focus: %s"
        % (count, left))
gui.click("Add a Client…")
gui.type_into("Client name", "alice")
gui.click("Add")
d.check(bool(gui.wait_for_text(ADMIN_WORDS, 15)), "adding a client as a refused user is refused in words")
gui.click("Close")
answer = d.ask_host("clients mumble")
d.check(answer == "", "mumble has no client afterwards (the daemon lists %r)" % answer)
gui.click("Back to the services")

# The daemon goes and comes back while the GUI runs.
d.ask_host("stop-daemon")
started = time.monotonic()
d.check(bool(gui.wait_for_text("background service is not running", 10)),
        "the banner says the daemon is not running (%.1f s after it stopped)" % (time.monotonic() - started))
d.screenshot("daemon-stopped")
d.check(not gui.has("Open Mumble", timeout=0.5) or not gui.find("Open Mumble").showing,
        "the services are not offered while the daemon is away")
d.ask_host("start-daemon")
started = time.monotonic()
back = gui.find("Open Mumble", timeout=15)
d.check(back is not None, "the services come back when the daemon is back (%.1f s)" % (time.monotonic() - started))
d.check(d.wait_until(lambda: not any("background service is not running" in t for t in gui.label_texts()), 5)
        is not None, "the banner goes away")

print(gui.close(), flush=True)
d.finish()
