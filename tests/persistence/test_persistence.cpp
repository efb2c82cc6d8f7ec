// Migrations between the amnesic system and the Persistent Storage.
#include "persistence/persistence.h"
#include "state/state_store.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

extern bool g_can_mount;

namespace fs = std::filesystem;
using tails_server::core::Persistence;
using tails_server::core::PersistenceError;
using tails_server::core::ServiceState;
using tails_server::core::StateStore;

namespace {

const std::string service = "svc";
const std::vector<std::string> paths = {"/var/lib/svc", "/srv/www"};

std::string read(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& file, const std::string& content) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << content;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_mode & 07777;
}

bool same_inode(const fs::path& a, const fs::path& b) {
  struct stat x {}, y {};
  return ::stat(a.c_str(), &x) == 0 && ::stat(b.c_str(), &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

struct Fixture {
  fs::path dir;
  fs::path root, persist, state;

  Fixture() {
    char templ[] = "/tmp/persistence-test.XXXXXX";
    dir = ::mkdtemp(templ);
    root = dir / "root";
    persist = dir / "persist";
    state = dir / "state";
    fs::create_directories(persist);
    fs::create_directories(state);
    // The service's data: files, a subdirectory, a private file, a link.
    write(root / "var/lib/svc/data.db", "precious");
    write(root / "var/lib/svc/sub/deep.txt", "deep");
    ::chmod((root / "var/lib/svc/sub/deep.txt").c_str(), 0640);
    fs::create_symlink("/etc/passwd", root / "var/lib/svc/link");
    write(root / "srv/www/index.html", "<h1>hello</h1>");
    // Its state: the options file and the onion key.
    write(state / "svc.state.json", "{\"persistence\": true}");
    write(state / "svc/hs_ed25519_secret_key", "KEY");
    ::chmod((state / "svc").c_str(), 0700);
  }
  ~Fixture() {
    for (const auto& p : paths)
      while (::umount2((root / fs::path(p).relative_path()).c_str(), MNT_DETACH) == 0) {
      }
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }

  Persistence make(std::function<void(const std::string&)> hook = {}) {
    Persistence::Options options;
    options.root = root;
    options.mount = g_can_mount;
    options.before_step = std::move(hook);
    return Persistence(persist, state, options);
  }

  fs::path base() const { return persist / "tails-server" / service; }
  fs::path data(const std::string& p) const { return base() / "data" / Persistence::escape_path(p); }

  // Everything of the service is where the amnesic system keeps it.
  void check_amnesic() const {
    CHECK(read(root / "var/lib/svc/data.db") == "precious");
    CHECK(read(root / "var/lib/svc/sub/deep.txt") == "deep");
    CHECK(mode_of(root / "var/lib/svc/sub/deep.txt") == 0640);
    CHECK(fs::read_symlink(root / "var/lib/svc/link") == "/etc/passwd");
    CHECK(read(root / "srv/www/index.html") == "<h1>hello</h1>");
    CHECK(read(state / "svc.state.json") == "{\"persistence\": true}");
    CHECK(read(state / "svc/hs_ed25519_secret_key") == "KEY");
    CHECK_FALSE(fs::exists(fs::symlink_status(base())));
    CHECK_FALSE(fs::exists(persist / "tails-server/svc.journal"));
    for (const auto& entry : fs::directory_iterator(root / "var/lib"))
      CHECK(entry.path().filename() == "svc");  // no temporary copies left
  }

  // Everything of the service is on the persistent volume, mounted back.
  void check_persistent() const {
    CHECK(read(data("/var/lib/svc") / "data.db") == "precious");
    CHECK(read(data("/var/lib/svc") / "sub/deep.txt") == "deep");
    CHECK(fs::read_symlink(data("/var/lib/svc") / "link") == "/etc/passwd");
    CHECK(read(data("/srv/www") / "index.html") == "<h1>hello</h1>");
    CHECK(read(base() / "state.json") == "{\"persistence\": true}");
    CHECK(read(base() / "state/hs_ed25519_secret_key") == "KEY");
    CHECK(mode_of(persist / "tails-server") == 0700);
    CHECK(mode_of(base()) == 0700);
    CHECK(mode_of(base() / "data") == 0700);
    CHECK_FALSE(fs::exists(state / "svc.state.json"));
    CHECK_FALSE(fs::exists(state / "svc"));
    CHECK_FALSE(fs::exists(persist / "tails-server/svc.journal"));
    if (g_can_mount) {
      CHECK(same_inode(root / "var/lib/svc", data("/var/lib/svc")));
      CHECK(same_inode(root / "srv/www", data("/srv/www")));
      CHECK(read(root / "var/lib/svc/data.db") == "precious");
    }
  }
};

}  // namespace

TEST_CASE("escape_path makes one file name of a path") {
  CHECK(Persistence::escape_path("/var/www/html") == "var%2Fwww%2Fhtml");
  CHECK(Persistence::escape_path("/a%b") == "a%25b");
  CHECK(Persistence::escape_path("/") == "%root");
}

TEST_CASE("turning persistence on moves the data and the state and bind-mounts the data") {
  Fixture f;
  auto p = f.make();
  CHECK_FALSE(p.persistent(service));
  p.turn_on(service, paths);
  CHECK(p.persistent(service));
  f.check_persistent();
  if (g_can_mount) {
    // What the service writes at its path lands on the persistent volume.
    write(f.root / "var/lib/svc/new.txt", "written later");
    CHECK(read(f.data("/var/lib/svc") / "new.txt") == "written later");
  }
  // Idempotent.
  p.turn_on(service, paths);
  f.check_persistent();
}

TEST_CASE("the state store reads the state of a persistent service on the persistent volume") {
  Fixture f;
  StateStore store(f.state);
  store.set_persistent_directory(f.persist / "tails-server");
  ServiceState state;
  state.options["persistence"] = "true";
  state.options["autostart"] = "true";
  store.save(service, state);
  CHECK(store.file(service) == f.state / "svc.state.json");
  f.make().turn_on(service, paths);
  CHECK_FALSE(store.persistent(service));  // where it was found, until asked to look again
  store.locate(service);
  CHECK(store.persistent(service));
  CHECK(store.file(service) == f.base() / "state.json");
  CHECK(store.service_directory(service) == f.base() / "state");
  REQUIRE(store.load(service).has_value());
  CHECK(*store.load(service) == state);
  // A "reboot": the amnesic state is gone, the persistent one is found.
  fs::remove_all(f.state);
  StateStore after(f.state);
  after.set_persistent_directory(f.persist / "tails-server");
  CHECK(after.load(service) == state);
}

TEST_CASE("turning persistence off moves everything back and leaves nothing on the persistent volume") {
  Fixture f;
  auto p = f.make();
  p.turn_on(service, paths);
  if (g_can_mount) write(f.root / "srv/www/added.html", "added while persistent");
  p.turn_off(service, paths);
  CHECK_FALSE(p.persistent(service));
  f.check_amnesic();
  if (g_can_mount) {
    CHECK(read(f.root / "srv/www/added.html") == "added while persistent");
    CHECK_FALSE(same_inode(f.root / "srv/www", f.persist));
  }
  CHECK(fs::is_empty(f.persist / "tails-server"));
  p.turn_off(service, paths);  // idempotent
  f.check_amnesic();
}

TEST_CASE("a file that cannot be copied rolls the move back and loses nothing") {
  Fixture f;
  REQUIRE(::mkfifo((f.root / "var/lib/svc/sub/pipe").c_str(), 0600) == 0);
  auto p = f.make();
  std::string message;
  try {
    p.turn_on(service, paths);
  } catch (const PersistenceError& error) {
    message = error.what();
  }
  CHECK(message.find("pipe") != std::string::npos);
  CHECK(message.find("FIFO") != std::string::npos);
  CHECK(message.find("rolled back") != std::string::npos);
  CHECK_FALSE(p.persistent(service));
  fs::remove(f.root / "var/lib/svc/sub/pipe");
  f.check_amnesic();
}

TEST_CASE("a failure at any step before the commit rolls back") {
  for (std::string failing : {"copy-data", "copy-state", "commit"}) {
    CAPTURE(failing);
    Fixture f;
    auto p = f.make([&](const std::string& step) {
      if (step == failing) throw std::runtime_error("injected failure at " + step);
    });
    CHECK_THROWS_WITH_AS(p.turn_on(service, paths), doctest::Contains("injected failure"), PersistenceError);
    f.check_amnesic();

    auto good = f.make();
    good.turn_on(service, paths);
    auto q = f.make([&](const std::string& step) {
      if (step == failing) throw std::runtime_error("injected failure at " + step);
    });
    CHECK_THROWS_WITH_AS(q.turn_off(service, paths), doctest::Contains("rolled back"), PersistenceError);
    f.check_persistent();
    CHECK_FALSE(fs::exists(f.root / "var/lib/svc.tails-server-new"));
  }
}

TEST_CASE("a symbolic link planted under the persistence root is never followed") {
  SUBCASE("the tree itself") {
    Fixture f;
    fs::create_directories(f.dir / "elsewhere");
    fs::create_directory_symlink(f.dir / "elsewhere", f.persist / "tails-server");
    CHECK_THROWS_WITH_AS(f.make().turn_on(service, paths), doctest::Contains("symbolic link"), PersistenceError);
    CHECK(fs::is_empty(f.dir / "elsewhere"));
    fs::remove(f.persist / "tails-server");
    f.check_amnesic();
  }
  SUBCASE("a data directory, at the next start and when turning off") {
    Fixture f;
    auto p = f.make();
    p.turn_on(service, paths);
    for (const auto& path : paths) ::umount2((f.root / fs::path(path).relative_path()).c_str(), MNT_DETACH);
    // Someone replaces the persistent data with a link to a secret place.
    write(f.dir / "secret/shadow", "secret");
    fs::rename(f.data("/srv/www"), f.dir / "moved-www");
    fs::create_directory_symlink(f.dir / "secret", f.data("/srv/www"));
    CHECK_THROWS_WITH_AS(f.make().restore_mounts(service, paths), doctest::Contains("symbolic link"),
                         PersistenceError);
    CHECK_FALSE(fs::exists(f.root / "srv/www/shadow"));
    CHECK_THROWS_WITH_AS(f.make().turn_off(service, paths), doctest::Contains("not a directory"),
                         PersistenceError);
    CHECK_FALSE(fs::exists(f.root / "srv/www/shadow"));
    CHECK(p.persistent(service));
    CHECK(read(f.dir / "secret/shadow") == "secret");
  }
}

TEST_CASE("a migration killed before its commit is rolled back at the next start") {
  for (std::string killed_at : {"copy-data", "copy-state", "commit"}) {
    CAPTURE(killed_at);
    Fixture f;
    auto p = f.make([&](const std::string& step) {
      if (step == killed_at) throw Persistence::Crash{};
    });
    CHECK_THROWS_AS(p.turn_on(service, paths), Persistence::Crash);
    CHECK(fs::exists(f.persist / "tails-server/svc.journal"));
    auto restarted = f.make();
    CHECK(restarted.recover(service, paths).find("rolled back") != std::string::npos);
    f.check_amnesic();
    CHECK(restarted.recover(service, paths).empty());

    restarted.turn_on(service, paths);
    auto q = f.make([&](const std::string& step) {
      if (step == killed_at) throw Persistence::Crash{};
    });
    CHECK_THROWS_AS(q.turn_off(service, paths), Persistence::Crash);
    auto again = f.make();
    CHECK(again.recover(service, paths).find("rolled back") != std::string::npos);
    again.restore_mounts(service, paths);
    f.check_persistent();
    CHECK_FALSE(fs::exists(f.root / "var/lib/svc.tails-server-new"));
    CHECK_FALSE(fs::exists(f.state / "svc.state.json.tails-server-new"));
  }
}

TEST_CASE("a migration killed after its commit is finished at the next start") {
  for (std::string killed_at : {"remove-sources", "mount"}) {
    CAPTURE(killed_at);
    Fixture f;
    auto p = f.make([&](const std::string& step) {
      if (step == killed_at) throw Persistence::Crash{};
    });
    CHECK_THROWS_AS(p.turn_on(service, paths), Persistence::Crash);
    auto restarted = f.make();
    CHECK(restarted.recover(service, paths).find("finished") != std::string::npos);
    f.check_persistent();
  }
  for (std::string killed_at : {"unmount", "swap-data", "remove-persistent"}) {
    CAPTURE(killed_at);
    Fixture f;
    f.make().turn_on(service, paths);
    auto p = f.make([&](const std::string& step) {
      if (step == killed_at) throw Persistence::Crash{};
    });
    CHECK_THROWS_AS(p.turn_off(service, paths), Persistence::Crash);
    auto restarted = f.make();
    CHECK(restarted.recover(service, paths).find("finished") != std::string::npos);
    f.check_amnesic();
  }
}

TEST_CASE("a turn-off killed after its commit and followed by a reboot keeps the persistent copy") {
  for (std::string killed_at : {"unmount", "swap-data", "remove-persistent"}) {
    CAPTURE(killed_at);
    Fixture f;
    f.make().turn_on(service, paths);
    auto p = f.make([&](const std::string& step) {
      if (step == killed_at) throw Persistence::Crash{};
    });
    CHECK_THROWS_AS(p.turn_off(service, paths), Persistence::Crash);
    // The reboot: the amnesic system was in RAM. The packages make the
    // services' directories again, empty; the mounts are gone.
    for (const auto& path : paths) {
      auto target = f.root / fs::path(path).relative_path();
      while (::umount2(target.c_str(), MNT_DETACH) == 0) {
      }
      fs::remove_all(f.root / fs::path(path).relative_path().parent_path());
      fs::create_directories(target);
    }
    fs::remove_all(f.state);
    fs::create_directories(f.state);

    auto rebooted = f.make();
    std::string said = rebooted.recover(service, paths);
    CHECK(said.find("rolled back") != std::string::npos);
    CHECK(said.find("amnesic copies were gone") != std::string::npos);
    CHECK(rebooted.persistent(service));
    rebooted.restore_mounts(service, paths);
    f.check_persistent();
  }
}

TEST_CASE("a set-user-ID program on the Persistent Storage loses the bit when persistence is turned off") {
  Fixture f;
  f.make().turn_on(service, paths);
  // Whoever holds the disk plants a set-user-ID root shell among the data.
  auto planted = f.data("/var/lib/svc") / "rootshell";
  write(planted, "#!/bin/sh\n");
  REQUIRE(::chown(planted.c_str(), 0, 0) == 0);
  REQUIRE(::chmod(planted.c_str(), 06755) == 0);
  REQUIRE(mode_of(planted) == 06755);
  f.make().turn_off(service, paths);
  auto copied = f.root / "var/lib/svc/rootshell";
  REQUIRE(fs::exists(copied));
  CHECK(mode_of(copied) == 0755);
}

TEST_CASE("turning persistence on without a Persistent Storage is refused clearly") {
  Fixture f;
  fs::remove_all(f.persist);
  CHECK_THROWS_WITH_AS(f.make().turn_on(service, paths), doctest::Contains("not unlocked"), PersistenceError);
  f.check_amnesic();
}

TEST_CASE("remove unmounts and deletes everything of the service on the persistent volume") {
  Fixture f;
  auto p = f.make();
  p.turn_on(service, paths);
  p.remove(service, paths);
  CHECK_FALSE(p.persistent(service));
  CHECK(fs::is_empty(f.persist / "tails-server"));
  if (g_can_mount) CHECK_FALSE(same_inode(f.root / "srv/www", f.data("/srv/www")));
}
