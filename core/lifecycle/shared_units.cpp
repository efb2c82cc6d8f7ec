// Units that several services use: nginx.service serves the web site of
// every enabled service that declares one (web/web_server.h), and PHP-FPM
// runs beside it while an enabled site runs PHP. A service's disable or
// uninstall stops such a unit only when no other enabled service uses it;
// else it reloads it without the service's site. Packages go the same way:
// uninstall purges only those no other installed service declares.
#include "lifecycle/lifecycle.h"
#include "lifecycle/lifecycle_p.h"
#include "util/run_program.h"
#include "web/web_server.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace tails_server::core {
namespace {

// The packages `apt-get -s ARGS` would purge or remove (apt changes nothing).
std::set<std::string> simulated_removals(const std::vector<std::string>& apt_arguments,
                                         const std::vector<std::string>& args) {
  ProgramRun run;
  run.argv = {"apt-get", "-s", "-q"};
  run.argv.insert(run.argv.end(), apt_arguments.begin(), apt_arguments.end());
  run.argv.insert(run.argv.end(), args.begin(), args.end());
  run.environment = {"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  run.timeout = std::chrono::seconds(60);
  ProgramResult result = run_program(run);
  if (result.exit_code != 0) {
    const std::string tail = result.output.size() > 500 ? result.output.substr(result.output.size() - 500) : result.output;
    throw std::runtime_error("apt-get -s failed (exit status " + std::to_string(result.exit_code) + "): " + tail);
  }
  std::set<std::string> names;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("Purg ", 0) == 0 || line.rfind("Remv ", 0) == 0) names.insert(line.substr(5, line.find(' ', 5) - 5));
  return names;
}

}  // namespace

bool Lifecycle::Impl::unit_shared(const std::string& service) const {
  const auto& unit = manager.service(service).systemd_service;
  for (const auto& other : manager.service_names())
    if (other != service && manager.enabled(other) && manager.service(other).systemd_service == unit) return true;
  return false;
}

void Lifecycle::Impl::start_php_if_needed(const std::string& service,
                                          std::function<void(std::optional<std::string>)> next) {
  bool php = false;
  try {
    php = manager.web_site_uses_php(service);
  } catch (const std::exception& error) {
    return next(std::string(error.what()));
  }
  if (!php) return next(std::nullopt);
  const std::string unit(php_fpm_unit);
  auto start = [this, unit, next] {
    try {
      units.start(unit, [unit, next](std::optional<UnitError> error) {
        if (error) return next("cannot start " + unit + " (PHP-FPM): " + error->what());
        next(std::nullopt);
      });
    } catch (const std::exception& error) {
      next(std::string("cannot ask systemd: ") + error.what());
    }
  };
  // Its package enabled it: keep it from starting at boot on its own.
  try {
    units.disable_unit_file(unit, [unit, start](std::optional<UnitError> error) {
      if (error) log::warning(unit + " may start at boot on its own: " + error->what());
      start();
    });
  } catch (const std::exception& error) {
    log::warning(unit + " may start at boot on its own: " + error.what());
    start();
  }
}

void Lifecycle::Impl::web_site_gone(const std::string& service, const std::string& unit, bool shared, bool forget,
                                    std::function<void(std::optional<std::string>)> next) {
  bool had_php = false;
  try {
    if (!manager.declares_web_site(service)) return next(std::nullopt);
    had_php = manager.web_site_uses_php(service);
    if (forget) manager.forget_web_site(service);
    manager.compose_web_sites();
  } catch (const std::exception& error) {
    return next(std::string(error.what()));
  }
  // PHP-FPM is stopped only by a service whose site ran PHP: never one
  // that serves something else on this computer while no site of ours does.
  auto php_step = [this, next, had_php] {
    if (!had_php) return next(std::nullopt);
    bool needed = true;
    try {
      needed = manager.php_web_sites_enabled();
    } catch (const std::exception& error) {
      return next(std::string(error.what()));
    }
    if (needed) return next(std::nullopt);
    const std::string php(php_fpm_unit);
    try {
      units.stop(php, [php, next](std::optional<UnitError> error) {
        if (error && error->bus_error() != "org.freedesktop.systemd1.NoSuchUnit")
          return next("cannot stop " + php + ": " + error->what());
        next(std::nullopt);
      });
    } catch (const std::exception& error) {
      next(std::string("cannot ask systemd: ") + error.what());
    }
  };
  if (!shared) return php_step();
  try {
    units.reload_or_restart(unit, [unit, next, php_step](std::optional<UnitError> error) {
      if (error) return next("cannot reload " + unit + ": " + error->what());
      php_step();
    });
  } catch (const std::exception& error) {
    next(std::string("cannot ask systemd: ") + error.what());
  }
}

void Lifecycle::Impl::drop_site_unless_enabled(const std::string& service) noexcept {
  try {
    if (!manager.enabled(service) && manager.declares_web_site(service)) manager.compose_web_sites();
  } catch (const std::exception& error) {
    log::warning(service + ": " + error.what());
  }
}

std::vector<std::string> Lifecycle::Impl::packages_to_purge(const std::string& service) const {
  std::vector<std::string> purge;
  for (const auto& package : manager.packages_installed_by_us(service)) {
    bool needed = false;
    for (const auto& other : manager.service_names()) {
      if (other == service) continue;
      // Another service of ours: installed, and enabled or installed through
      // us (its packages being on the system alone says nothing: a test
      // machine, or Tails' Additional Software, may have them).
      const auto& packages = manager.service(other).packages;
      if (packages.empty() || !packages_installed(packages)) continue;
      if (!manager.enabled(other) && manager.packages_installed_by_us(other).empty()) continue;
      if (std::find(packages.begin(), packages.end(), package) != packages.end()) needed = true;
    }
    if (needed) log::info(service + ": " + package + " stays installed: another installed service needs it");
    else purge.push_back(package);
  }
  if (purge.empty()) return purge;
  // The automatically installed dependencies that only these needed go too:
  // left behind, one whose alternative is gone makes apt install another
  // (dokuwiki's php, without php8.2-fpm, would pull in Apache's module). Only
  // those this purge frees: not what was unneeded already.
  try {
    std::vector<std::string> args = {"purge", "--autoremove"};
    args.insert(args.end(), purge.begin(), purge.end());
    const auto with = simulated_removals(options.apt_arguments, args);
    const auto before = simulated_removals(options.apt_arguments, {"autoremove"});
    std::vector<std::string> freed;
    for (const auto& package : with)
      if (!before.count(package) && std::find(purge.begin(), purge.end(), package) == purge.end())
        freed.push_back(package);
    if (!freed.empty())
      log::info(service + ": also purging " + lifecycle_detail::join_packages(freed) +
                ", installed as their dependencies and needed by nothing else");
    purge.insert(purge.end(), freed.begin(), freed.end());
  } catch (const std::exception& error) {
    log::warning(service + ": cannot ask apt which dependencies the purge frees: " + error.what());
  }
  return purge;
}

}  // namespace tails_server::core
