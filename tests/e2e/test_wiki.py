"""The dokuwiki plugin end to end beside the nginx static site, both on the one shared nginx,
through a real (private) Tor network, driven only through the tails-server CLI (issue 13, part 3:
"two of them share nginx without either knowing the other").

Set-up: the build staged into a throwaway sandbox booted with a persistent volume, the private Tor
network (tests/tor-network/tornet) inside it, tails-serverd driving its service tor. The wiki's
own packages (dokuwiki, php8.2-fpm) are purged in the sandbox first (their .debs are in apt's
cache), so that 'install dokuwiki' installs them for real and records them as ours. Then:
  both:     nginx (a page of this run in its site folder) and dokuwiki (a title of this run)
            installed, enabled, online, each with a client whose key the client tor holds; through
            each onion, with curl over the client tor's SOCKS port, each serves its own content
            and not the other's. Apache was not installed.
  edit:     an admin made with 'run dokuwiki add-admin NAME' (password on stdin) logs in over
            HTTP through Tor (the login form's sectok scraped), edits a page through the edit form
            (its sectok, date and changecheck scraped), and the page shows the text.
  restart:  nginx and PHP-FPM restarted (and the wiki disabled and enabled): the page is there.
  reboot:   persistence on for the wiki, the sandbox powered off and booted again with the same
            volume, the Tor network and the daemon started again, the wiki enabled: the page is
            there through the same onion address.
  disable:  the static site disabled: the wiki still answers through its onion, nginx runs.
  remove:   the static site enabled again, the wiki uninstalled: the static site answers through
            its onion, dokuwiki and php8.2-fpm are purged, nginx stays installed, php-fpm stopped.
Run by tests/scenario/run-scenario (ctest: e2e-wiki); skipped without root, tor, tor-gencert,
nginx, or the cached .debs of dokuwiki and php8.2-fpm. Tors stopped, sandbox off at the end.
"""

import html.parser
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenario"))

from sandbox_fixture import Sandbox, ScenarioCase, ScenarioError, indent, note  # noqa: E402

ONLINE_LIMIT = float(os.environ.get("E2E_ONLINE_LIMIT", "120"))
REPUBLISH_LIMIT = float(os.environ.get("E2E_REPUBLISH_LIMIT", "45"))
REACH_LIMIT = float(os.environ.get("E2E_REACH_LIMIT", "240"))
TN = "/run/tails-server-e2e-wiki-tornet"  # not /tmp: the daemon has PrivateTmp=yes
ADD_LINE = re.compile(r"ONION_CLIENT_AUTH_ADD ([a-z2-7]{56}(?:\.onion)?) x25519:([A-Za-z0-9+/=]{43,44})")
RUN = "%x" % (int(time.time()) & 0xffffff)
STATIC_PAGE = "<p>static site of run %s</p>\n" % RUN
TITLE = "E2E wiki %s" % RUN
ADMIN, PASSWORD = "alice", "a 'wiki' \"pass\" $word %s" % RUN
PAGE_ID = "e2e_page"
PAGE_TEXT = "Edited through Tor in run %s." % RUN
WIKI_PACKAGES = ("dokuwiki", "php8.2-fpm")
JAR = "/root/wiki-cookies"
PURGE_WIKI = r"""
with=$(apt-get -s -q purge --autoremove "$@" | awk '/^(Purg|Remv) /{print $2}' | sort)
before=$(apt-get -s -q autoremove | awk '/^(Purg|Remv) /{print $2}' | sort)
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $(comm -23 <(echo "$with") <(echo "$before"))
"""


def installed_packages(sb):
    text = sb.out("dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n")
    return sorted(line.split()[0] for line in text.splitlines() if line.split()[1:2] == ["ii"])


def skip_reason():
    for tool in ("tor", "tor-gencert", "nginx"):
        if not shutil.which(tool):
            return "%s is missing" % tool
    for p in WIKI_PACKAGES:
        if not any(n.startswith(p + "_") for n in os.listdir("/var/cache/apt/archives")):
            return "no cached .deb of %s (scripts/install-deps installs it)" % p
    return None


class World:
    sb = None
    persist = ""
    socks = ""
    onion = {}
    b64 = {}
    purged_first = False
    packages_before = []


W = World


def setUpModule():
    sb = W.sb = Sandbox(name="e2e-wiki")
    with sb.setting_up():
        W.persist = os.path.join(sb.work, "persist")
        sb.stage()
        sb.boot(persistent=W.persist)
        start_network(sb)
        # The wiki's packages and the dependencies only they need (apt, offline: the .debs are
        # cached), so that 'install dokuwiki' installs them for real.
        r = sb.sh(PURGE_WIKI, *WIKI_PACKAGES)
        W.purged_first = r.returncode == 0 and not any(sb.pkg_installed(p) for p in WIKI_PACKAGES)
        if not W.purged_first:
            note("purging %s in the sandbox failed:\n%s" % (" ".join(WIKI_PACKAGES), indent(r.stdout)))
        W.packages_before = installed_packages(sb)


def start_network(sb):
    _took, env = sb.start_tornet(TN)
    socket, cookie = env.get("SERVICE_CONTROL_SOCKET", ""), env.get("SERVICE_COOKIE", "")
    if not socket or not cookie or not env.get("SOCKS_PORT"):
        raise ScenarioError("%s/env lacks the service tor or the SOCKS port" % TN)
    sb.write_config('tor_control: "unix:%s"\ntor_cookie: "%s"\n' % (socket, cookie))
    sb.start_daemon()
    W.socks = "%s:%s" % (env.get("SOCKS_HOST") or "127.0.0.1", env["SOCKS_PORT"])


def tearDownModule():
    if W.sb:
        W.sb.cleanup()


class Form(html.parser.HTMLParser):
    """The <input> fields (name -> value) and <textarea>s of the form with the given id."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.fields, self.textarea = form_id, False, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        elif self.inside and tag == "input" and a.get("name") and a.get("type") in ("hidden", "text", None):
            self.fields[a["name"]] = a.get("value") or ""
        elif self.inside and tag == "textarea" and a.get("name"):
            self.textarea = a["name"]
            self.fields[self.textarea] = ""

    def handle_data(self, data):
        if self.textarea:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self.textarea = None
        elif tag == "form":
            self.inside = False


def form_fields(page, form_id):
    parser = Form(form_id)
    parser.feed(page)
    return parser.fields


class WikiCase(ScenarioCase):
    abstract = True

    @property
    def sb(self):
        return W.sb

    def http(self, svc, path, data=None, limit=REACH_LIMIT):
        """curl through the client tor's SOCKS port to SVC's onion (cookies in JAR): (HTTP status,
        body). Retried (NEWNYM between) while tor cannot reach the onion."""
        url = "http://%s/%s" % (W.onion[svc], path.lstrip("/"))
        argv = ["curl", "-sS", "--max-time", "90", "--socks5-hostname", W.socks, "-b", JAR, "-c", JAR,
                "-o", "/root/wiki-body", "-w", "%{http_code}", url]
        for key, value in (data or {}).items():
            argv += ["--data-urlencode", "%s=%s" % (key, value)]
        t = time.monotonic()
        while True:
            r = self.sb.exec(*argv, timeout=200)
            code = r.stdout.strip()
            if (r.returncode == 0 and code.isdigit()) or time.monotonic() - t > limit:
                return (int(code) if code.isdigit() else 0), self.sb.cat("/root/wiki-body")
            note("curl %s: exit %d %s" % (url, r.returncode, r.stderr.strip()[-200:]))
            self.sb.newnym()
            time.sleep(3)

    def credential(self, svc):
        """A client of SVC whose key the client tor holds (Flags=Permanent: NEWNYM keeps it)."""
        sb = self.sb
        W.onion[svc] = sb.address_of(svc)
        if not W.b64.get(svc):
            sb.ts("client", "remove", svc, "alice")
            r = sb.ts("client", "add", svc, "alice")
            m = ADD_LINE.search(r.stdout)
            self.require(r.returncode == 0 and m, "client add %s alice" % svc, r.stdout)
            W.b64[svc] = m.group(2)
            sb.wait_state(svc, "online", REPUBLISH_LIMIT)
        sb.tornet("control", "client", "ONION_CLIENT_AUTH_ADD", W.onion[svc][:-6], "x25519:" + W.b64[svc],
                  "Flags=Permanent")

    def ensure_static(self):
        sb = self.sb
        if sb.status_field("nginx", "installed") != "true":
            self.require(sb.ts("install", "nginx").returncode == 0, "install nginx")
        sb.sh('mkdir -p /var/www/tails-server && cat >/var/www/tails-server/index.html', input=STATIC_PAGE)
        self.ensure_online("nginx", ONLINE_LIMIT)
        self.credential("nginx")

    def ensure_wiki(self):
        sb = self.sb
        if sb.status_field("dokuwiki", "installed") != "true":
            r = sb.ts("install", "dokuwiki")
            self.require(r.returncode == 0, "install dokuwiki", r.stdout)
        if sb.option("dokuwiki", "title") != TITLE:
            sb.ts("set-option", "dokuwiki", "title", TITLE)
        self.ensure_online("dokuwiki", ONLINE_LIMIT)
        self.credential("dokuwiki")

    def page_text(self):
        """The wiki page as the wiki shows it through Tor (status, body)."""
        return self.http("dokuwiki", "/doku.php?id=" + PAGE_ID)


# ---------------------------------------------------------------------------------------------
class Both(WikiCase):
    """1. The static site and the wiki on the one nginx, each through its own onion."""

    def test_the_wiki_packages_are_installed_for_real_without_apache(self):
        sb = self.sb
        self.expect(W.purged_first, "dokuwiki and php8.2-fpm were purged in the sandbox before the test")
        r = sb.ts("install", "dokuwiki")
        self.expect(r.returncode == 0, "tails-server install dokuwiki", r.stdout)
        for p in WIKI_PACKAGES + ("nginx",):
            self.expect(sb.pkg_installed(p), "%s is installed" % p)
        for p in ("apache2", "apache2-bin", "libapache2-mod-php8.2"):
            self.expect(not sb.pkg_installed(p), "%s is not installed" % p)

    def test_each_onion_serves_its_own_content(self):
        self.ensure_static()
        self.ensure_wiki()
        status, body = self.http("nginx", "/")
        self.expect(status == 200 and STATIC_PAGE in body, "the static site's onion serves its page", body[:500])
        self.expect(TITLE not in body, "... and not the wiki")
        status, body = self.http("dokuwiki", "/")
        self.expect(status == 200 and TITLE in body and "doku.php" in body,
                    "the wiki's onion serves the wiki's start page (its title)", body[:800])
        self.expect(STATIC_PAGE not in body, "... and not the static page")
        status, body = self.http("dokuwiki", "/data/pages/start.txt")
        self.expect(status == 404, "the wiki's data folder is not served (%d)" % status)
        self.expect(self.sb.ok("systemctl", "is-active", "--quiet", "nginx.service"), "one nginx.service runs")
        self.expect(self.sb.ok("systemctl", "is-active", "--quiet", "php8.2-fpm.service"), "php8.2-fpm runs")


class Edit(WikiCase):
    """2. An admin from the plugin command edits a page through Tor; it survives restarts."""

    def test_an_admin_logs_in_and_edits_a_page_through_tor(self):
        sb = self.sb
        self.ensure_wiki()
        r = sb.ts("run", "dokuwiki", "add-admin", ADMIN, input=PASSWORD + "\n")
        self.require(r.returncode == 0, "tails-server run dokuwiki add-admin alice (password on stdin)", r.stdout)
        users = sb.cat("/var/lib/dokuwiki/acl/users.auth.php")
        self.expect(PASSWORD not in users and "alice:$2y$" in users, "users.auth.php holds a bcrypt hash", users)
        sb.exec("rm", "-f", JAR)
        status, page = self.http("dokuwiki", "/doku.php?id=start&do=login")
        login = form_fields(page, "dw__login")
        self.require(status == 200 and login.get("sectok") is not None, "the login form has a sectok", page[:800])
        login.update({"u": ADMIN, "p": PASSWORD, "do": "login", "id": "start"})
        status, page = self.http("dokuwiki", "/doku.php", login)
        status, page = self.http("dokuwiki", "/doku.php?id=%s&do=edit" % PAGE_ID)
        edit = form_fields(page, "dw__editform")
        self.require(status == 200 and "wikitext" in edit and edit.get("sectok"),
                     "logged in, the edit form of a new page (with a sectok)", page[:1500])
        edit.update({"wikitext": PAGE_TEXT, "summary": "e2e", "do[save]": "1", "id": PAGE_ID})
        status, page = self.http("dokuwiki", "/doku.php", edit)
        self.expect(status in (200, 302, 303), "the edit is posted (%d)" % status, page[:800])
        status, page = self.page_text()
        self.expect(status == 200 and PAGE_TEXT in page, "the page shows the edited text through Tor", page[:1500])
        stored = sb.cat("/var/lib/dokuwiki/data/pages/%s.txt" % PAGE_ID)
        self.expect(PAGE_TEXT in stored, "the page is in the wiki's data folder", stored)

    def test_the_page_is_there_after_a_restart(self):
        sb = self.sb
        self.expect(sb.ok("systemctl", "restart", "php8.2-fpm.service", "nginx.service"),
                    "nginx and php-fpm restarted")
        r = sb.ts("disable", "dokuwiki")
        self.expect(r.returncode == 0, "disable dokuwiki", r.stdout)
        self.ensure_wiki()
        status, page = self.page_text()
        self.expect(status == 200 and PAGE_TEXT in page, "the page is there after the restarts", page[:1500])


class Reboot(WikiCase):
    """3. Persistence on: the page is there after a sandbox reboot."""

    def test_the_page_is_there_after_a_reboot_with_persistence(self):
        sb = self.sb
        self.ensure_wiki()
        address = W.onion["dokuwiki"]
        r = sb.ts("set-option", "dokuwiki", "persistence", "true")
        self.require(r.returncode == 0, "persistence on for dokuwiki", r.stdout)
        self.expect(sb.ts("set-option", "dokuwiki", "autostart", "true").returncode == 0, "autostart on")
        self.require(sb.poweroff(), "the sandbox powers off")
        sb.boot(persistent=W.persist)
        start_network(sb)
        W.b64, W.onion = {}, {}  # a new client tor: the credentials again
        # What tails-server-autostart.service does at boot (not enabled in this sandbox).
        r = sb.ts("autostart")
        self.expect(r.returncode == 0, "tails-server autostart starts the wiki (autostart on)", r.stdout)
        self.ensure_wiki()
        self.expect(W.onion["dokuwiki"] == address, "the wiki has the same onion address after the reboot")
        status, page = self.page_text()
        self.expect(status == 200 and PAGE_TEXT in page, "the page is there after the reboot", page[:1500])
        self.expect("alice:$2y$" in sb.cat("/var/lib/dokuwiki/acl/users.auth.php"), "the admin is there too")
        self.expect("debian.org" not in page and "Run on Debian" not in page,
                    "no page names the OS after the reboot (the footer's diversion added again)")


class Share(WikiCase):
    """4. Each of the two can go without the other."""

    def test_disabling_the_static_site_keeps_the_wiki_answering(self):
        sb = self.sb
        self.ensure_static()
        self.ensure_wiki()
        r = sb.ts("disable", "nginx")
        self.expect(r.returncode == 0, "disable nginx (the static site)", r.stdout)
        self.expect(sb.ok("systemctl", "is-active", "--quiet", "nginx.service"), "nginx.service still runs")
        port = sb.option("nginx", "local-port")
        self.expect(not sb.connects(port, "127.0.0.1"), "nothing listens on the static site's port %s" % port)
        status, page = self.page_text()
        self.expect(status == 200 and PAGE_TEXT in page, "the wiki still answers through its onion", page[:800])
        state = sb.state_of("dokuwiki")
        self.expect(state == "online", "the wiki stayed online: its onion was not withdrawn (%s)" % state)

    def test_uninstalling_the_wiki_leaves_the_static_site_and_purges_only_its_own_packages(self):
        sb = self.sb
        self.ensure_static()
        r = sb.ts("uninstall", "dokuwiki", "--yes")
        self.expect(r.returncode == 0, "uninstall dokuwiki", r.stdout)
        for p in WIKI_PACKAGES:
            self.expect(not sb.pkg_installed(p), "%s (installed for the wiki) is purged" % p)
        self.expect(sb.pkg_installed("nginx"), "nginx stays installed (the static site needs it)")
        after = installed_packages(sb)
        self.expect(bool(W.packages_before) and after == W.packages_before,
                    "the installed packages are those before 'install dokuwiki': its dependencies went with it,"
                    " nothing else did", "gone: %s\nadded: %s" % (sorted(set(W.packages_before) - set(after)),
                                                                 sorted(set(after) - set(W.packages_before))))
        for p in ("apache2", "apache2-bin", "libapache2-mod-php8.2"):
            self.expect(not sb.pkg_installed(p), "%s is not installed" % p)
        self.expect(not sb.ok("systemctl", "is-active", "--quiet", "php8.2-fpm.service"), "php-fpm is not running")
        status, body = self.http("nginx", "/")
        self.expect(status == 200 and STATIC_PAGE in body, "the static site still answers through its onion",
                    body[:500])
        state = sb.state_of("nginx")
        self.expect(state == "online", "the static site stayed online (%s)" % state)
        conf = sb.cat("/etc/nginx/sites-enabled/tails-server")
        self.expect("dokuwiki" not in conf and "fastcgi_pass" not in conf, "nginx's configuration lost the wiki",
                    conf)

