// A plugin test root with a minimal nginx.conf that includes sites-enabled as
// Debian's does, so that `nginx -t` checks the composed web sites (the nginx
// and dokuwiki plugins' tests).
#pragma once

#include "daemon_process.h"
#include "plugin_root.h"

#include <filesystem>
#include <string>

namespace plugin_test {

struct NginxRoot : PluginRoot {
  explicit NginxRoot(const std::string& name) : PluginRoot(name) {}

  std::filesystem::path site_file() const { return tmp / "etc/nginx/sites-enabled/tails-server"; }
  std::filesystem::path main_config() const { return tmp / "etc/nginx/nginx.conf"; }

  // Temporary files and logs in the root; Debian's fastcgi_params beside it.
  void write_main_config() {
    const std::string t = tmp.path().string();
    std::filesystem::create_directories(tmp / "etc/nginx/sites-enabled");
    std::filesystem::create_directories(tmp / "var/lib/nginx");
    std::filesystem::copy_file("/etc/nginx/fastcgi_params", tmp / "etc/nginx/fastcgi_params",
                               std::filesystem::copy_options::overwrite_existing);
    write_file(main_config(),
               "user www-data;\n"
               "worker_processes 1;\n"
               "pid " + t + "/nginx.pid;\n"
               "error_log " + t + "/nginx-error.log;\n"
               "events { worker_connections 64; }\n"
               "http {\n"
               "  client_body_temp_path " + t + "/var/lib/nginx/body;\n"
               "  proxy_temp_path " + t + "/var/lib/nginx/proxy;\n"
               "  fastcgi_temp_path " + t + "/var/lib/nginx/fastcgi;\n"
               "  uwsgi_temp_path " + t + "/var/lib/nginx/uwsgi;\n"
               "  scgi_temp_path " + t + "/var/lib/nginx/scgi;\n"
               "  include /etc/nginx/mime.types;\n"
               "  include " + t + "/etc/nginx/sites-enabled/*;\n"
               "}\n");
  }

  tails_server::RunResult nginx_test() {
    return host.run({"nginx", "-t", "-c", main_config().string()}, tails_server::RunOptions{});
  }
};

}  // namespace plugin_test
