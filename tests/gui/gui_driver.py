"""Drives tails-server-gui through AT-SPI with dogtail, as a person would.

Runs inside a session that gui-session made: an X server (Xvfb), a session
bus with the AT-SPI bus, and DBUS_SYSTEM_BUS_ADDRESS pointing at the bus
where the real tails-serverd runs. Debian 12's python3-dogtail only.
"""

import atexit
import os
import subprocess
import sys
import time

import gi

gi.require_version("Gdk", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

from dogtail import config as dogtail_config  # noqa: E402

dogtail_config.logDebugToFile = False
dogtail_config.logDebugToStdOut = False
dogtail_config.searchCutoffCount = 3
dogtail_config.searchBackoffDuration = 0.2
dogtail_config.defaultDelay = 0.1
from dogtail.tree import SearchError, root  # noqa: E402
from dogtail import predicate  # noqa: E402

GUI = os.environ.get("TAILS_SERVER_GUI", "tails-server-gui")
ARTIFACTS = os.environ.get("GUI_ARTIFACTS", "/tmp")

passed = 0
failed = 0


def node_gone(error):
    """Whether a GLib.GError is libatspi's ATSPI_ERROR_APPLICATION_GONE ("The application no longer exists"),
    which it also says of one accessible that the application removed (its widget was destroyed)."""
    return error.domain == "atspi_error" and error.code == 0


def check(condition, what):
    """A check printed as PASS or FAIL; it does not end the scenario."""
    global passed, failed
    if condition:
        passed += 1
        print(f"PASS {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL {what}", flush=True)
    return condition


def finish():
    print(f"{passed} checks passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def wait_until(probe, timeout, interval=0.1):
    """The first true value of probe() within timeout seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except (SearchError, LookupError, GLib.GError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)


class Gui:
    """One tails-server-gui process and its accessible tree."""

    def __init__(self):
        # The GUI's output goes to a file (an artifact): a pipe read only at the end could fill up and block it.
        driver = os.path.splitext(os.path.basename(sys.argv[0]))[0]
        self.output_path = os.path.join(ARTIFACTS, "gui-output-%s.log" % driver)
        self.output = open(self.output_path, "w")
        self.process = subprocess.Popen([GUI], stdout=self.output, stderr=subprocess.STDOUT, text=True)
        self.started = time.monotonic()
        self.closed = False
        self._services = None
        self.app = wait_until(lambda: root.application("tails-server-gui"), 20)
        if self.app is None:
            raise RuntimeError("tails-server-gui did not appear on the AT-SPI bus")
        atexit.register(self._report_death)

    def _report_death(self):
        """If the GUI died before the driver closed it: how, and what it said."""
        if not self.closed and self.process.poll() is not None and self.process.returncode != 0:
            print("the GUI ended with status %d:\n%s" % (self.process.returncode, self._output()[-3000:]), flush=True)

    def _output(self):
        with open(self.output_path) as f:
            return f.read()

    def close(self):
        self.closed = True
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.output.close()
        return self._output()

    # Finding things. Names are accessible names (what a screen reader says).

    def find(self, name, role=None, timeout=10):
        """The first match that is showing, else the first one (GTK 4.8
        does not say "showing" for every widget on screen)."""
        def probe():
            found = self._find_all(predicate.GenericPredicate(name=name, roleName=role))
            showing = [node for node in found if node.showing]
            return (showing or found or [None])[0]
        return wait_until(probe, timeout)

    def windows(self):
        """The application's windows that still exist (a closed dialog can
        linger in the tree and fail when asked)."""
        alive = []
        for index in range(self.app.childCount):
            try:
                window = self.app.getChildAtIndex(index)
                window.name  # noqa: B018 (asks the window: fails if it is gone)
                alive.append(window)
            except Exception:  # pylint: disable=broad-except
                continue
        return alive

    def _find_all(self, pred):
        found = []
        for window in reversed(self.windows()):  # dialogs first
            try:
                found += window.findChildren(pred)
            except Exception:  # pylint: disable=broad-except
                continue
        return found

    def has(self, name, role=None, timeout=0.5):
        return self.find(name, role, timeout) is not None

    def label_texts(self):
        """The texts of every label, from one walk of the windows that read
        to its end (see _read)."""
        return self._read(lambda: self._find_all(predicate.GenericPredicate(roleName="label")), lambda n: n.name)

    def _read(self, walk, read, attempts=5):
        """read(node) for every node of walk(), the walk done again when one
        of its nodes is gone before it is read. The GUI destroys widgets and
        makes new ones while it runs (a service's page rebuilds its list of
        clients when one is added, its commands and documentation link when
        the daemon reports a change): libatspi then drops their accessibles, and
        asking one that the walk found says "The application no longer
        exists" although the GUI lives. So a node that is gone is the
        driver's stale object, once ensure_alive() says that the GUI is
        still there; a GUI that is gone still fails."""
        for _ in range(attempts):
            values = []
            for node in walk():
                try:
                    values.append(read(node))
                except GLib.GError as error:
                    if not node_gone(error):
                        raise
                    self.ensure_alive()
                    print("a node was gone before it was read (the GUI destroyed its widget): walking again",
                          flush=True)
                    break
            else:
                return values
        raise LookupError("the GUI's tree changed during each of %d walks" % attempts)

    def ensure_alive(self):
        """Raises unless the GUI process runs and its application is still on the accessibility bus."""
        if self.process.poll() is not None:
            raise RuntimeError("the GUI ended with status %d:\n%s" % (self.process.returncode, self._output()[-3000:]))
        try:
            self.app.name  # noqa: B018 (the application's root accessible: gone only with its connection)
        except GLib.GError as error:
            raise RuntimeError("the GUI left the accessibility bus: %s" % error) from error

    def find_label(self, test, timeout=10):
        """The first label whose text passes test(text)."""
        def probe():
            for node in self._find_all(predicate.GenericPredicate(roleName="label")):
                if test(node.name):
                    return node
            return None
        return wait_until(probe, timeout)

    def wait_for_text(self, fragment, timeout=10):
        return wait_until(lambda: any(fragment in t for t in self.label_texts()), timeout)

    def services_list(self):
        """The main window's list of services (not a chooser's), found once
        and found again if it is gone: a walk of every window for it is slow
        (see drive_new_user.py's installation)."""
        try:
            if self._services is not None and self._services.name == "Services":
                return self._services
        except GLib.GError as error:
            if not node_gone(error):
                raise
            self.ensure_alive()
        self._services = self.find("Services", "list", timeout=0.5)
        return self._services

    def row_state(self, shown_name):
        """The state in words on the main window's row of a service, or None."""
        def walk():
            services = self.services_list()
            if services is None:
                return []
            rows = services.findChildren(predicate.GenericPredicate(name=shown_name, roleName="list item"))
            return rows[0].findChildren(predicate.GenericPredicate(roleName="label"))[1:2] if rows else []
        return (self._read(walk, lambda n: n.name) or [None])[0]

    def wait_for_row_state(self, shown_name, words, timeout):
        return wait_until(lambda: self.row_state(shown_name) == words, timeout)

    # Acting.

    def _act(self, find, act, what, attempts=3):
        """act(node) on find(), found again if the GUI destroyed the node
        in between (libatspi refuses to send anything to a node it dropped,
        so nothing is done twice)."""
        for _ in range(attempts):
            node = find()
            if node is None:
                raise LookupError(f"no {what} is showing")
            try:
                act(node)
                return node
            except GLib.GError as error:
                if not node_gone(error):
                    raise
                self.ensure_alive()
                print(f"the {what} was gone before it was used (the GUI destroyed it): finding it again", flush=True)
        raise LookupError(f"the {what} was replaced each time it was found")

    def click(self, name, role="push button", timeout=10):
        return self._act(lambda: self.find(name, role, timeout), lambda n: n.doActionNamed("click"),
                         f"{role} named {name!r}")

    def toggle(self, name, timeout=10):
        return self._act(lambda: self.find(name, "check box", timeout) or self.find(name, "toggle button", 0.5),
                         lambda n: n.doActionNamed("toggle" if "toggle" in n.actions else "click"),
                         f"switch named {name!r}")

    def type_into(self, name, text, role="text", timeout=10):
        return self._act(lambda: self.find(name, role, timeout), lambda n: setattr(n, "text", text),
                         f"{role} named {name!r}")

    def open_service(self, name, timeout=10):
        return self.click(f"Open {name}", timeout=timeout)


_asked = 0


def ask_host(action, timeout=120):
    """Asks the test on the host (which runs as root) to do `action`: prints
    "HOST <n> <action>" and waits until it creates $GUI_HOST_ACK/<n>. True
    if it did within timeout seconds: the answer the file holds (maybe ""), else None."""
    global _asked
    _asked += 1
    ack = os.path.join(os.environ["GUI_HOST_ACK"], str(_asked))
    print(f"HOST {_asked} {action}", flush=True)
    if not wait_until(lambda: os.path.exists(ack), timeout, 0.05):
        return None
    with open(ack) as f:
        return f.read()


def clipboard_text():
    clipboard = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD)
    return clipboard.wait_for_text()


def screenshot(name):
    """Saves the whole screen as ARTIFACTS/name.png and returns the path."""
    window = Gdk.get_default_root_window()
    # The GUI's windows open at the top left (Xvfb has no window manager).
    width, height = min(window.get_width(), 660), min(window.get_height(), 740)
    pixbuf = Gdk.pixbuf_get_from_window(window, 0, 0, width, height)
    path = os.path.join(ARTIFACTS, name + ".png")
    pixbuf.savev(path, "png", [], [])
    print(f"screenshot {path}", flush=True)
    return path


def decode_qr(path):
    """The texts of the QR codes in an image, with zbarimg."""
    result = subprocess.run(["zbarimg", "--quiet", "--raw", path], capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if line]
