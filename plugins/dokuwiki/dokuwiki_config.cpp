#include "dokuwiki_config.h"

#include <tails_server/escape.h>

#include <stdexcept>

namespace dokuwiki {

namespace escape = tails_server::escape;

std::string render_local_php(std::string_view title) {
  std::string c = "<?php\n";
  c += "// Written by Tails Server from the options of the \"dokuwiki\" service.\n";
  c += "// Changes made here are overwritten.\n";
  c += "$conf['title'] = " + escape::php_string(title) + ";\n";
  c += "$conf['license'] = 'cc-by-sa';\n";
  c += "$conf['useacl'] = 1;\n";
  c += "$conf['authtype'] = 'authplain';\n";
  c += "$conf['passcrypt'] = 'bcrypt';\n";
  c += "$conf['superuser'] = '@admin';\n";
  // Anyone who reaches the onion could register and then edit.
  c += "$conf['disableactions'] = 'register';\n";
  c += "$conf['userewrite'] = 0;\n";
  return c;
}

std::string template_footer() {
  return R"(<?php
// Written by Tails Server: Debian's footer without its "Run on Debian" button.
if (!defined('DOKU_INC')) die();
?>

<!-- ********** FOOTER ********** -->
<footer id="dokuwiki__footer"><div class="pad">
    <?php tpl_license(''); // license text ?>

    <div class="buttons">
        <?php
            tpl_license('button', true, false, false); // license button, no wrapper
            $target = ($conf['target']['extern']) ? 'target="'.$conf['target']['extern'].'"' : '';
        ?>
        <a href="https://dokuwiki.org/" title="Driven by DokuWiki" <?php echo $target?>><img
            src="<?php echo tpl_basedir(); ?>images/button-dw.png" width="80" height="15"
            alt="Driven by DokuWiki" /></a>
    </div>

    <?php tpl_includeFile('footer.html'); ?>
</div></footer><!-- /footer -->
)";
}

std::string default_acl() {
  return "# Written by Tails Server: everyone reads, logged-in users edit and upload.\n"
         "*\t@ALL\t1\n"
         "*\t@user\t8\n";
}

bool is_admin(const Account& account) {
  const std::string groups = "," + account.line.substr(account.line.rfind(':') + 1) + ",";
  return groups.find(",admin,") != std::string::npos;
}

std::string check_admin_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return "it must be 1 to 64 characters long";
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
      return "it may hold only a-z, 0-9, '.', '_' and '-', and must start with a letter or digit";
  }
  return {};
}

std::vector<Account> parse_users(std::string_view file) {
  std::vector<Account> accounts;
  std::size_t start = 0;
  while (start < file.size()) {
    std::size_t end = file.find('\n', start);
    if (end == std::string_view::npos) end = file.size();
    std::string line(file.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) throw std::runtime_error("users.auth.php: a line is not an account");
    accounts.push_back({line.substr(0, colon), line});
  }
  return accounts;
}

std::string render_users(const std::vector<Account>& accounts) {
  std::string c = "# users.auth.php\n"
                  "# <?php exit()?>\n"
                  "# Don't modify the lines above\n"
                  "#\n"
                  "# Userfile, written by DokuWiki and by Tails Server's \"add-admin\" command.\n"
                  "#\n"
                  "# Format:\n"
                  "# login:passwordhash:Real Name:email:groups,comma,separated\n\n";
  for (const auto& account : accounts) c += account.line + "\n";
  return c;
}

Account admin_account(const std::string& name, const std::string& hash) {
  if (!check_admin_name(name).empty()) throw std::runtime_error("invalid admin name");
  if (hash.rfind("$2y$", 0) != 0) throw std::runtime_error("not a bcrypt hash");
  for (unsigned char c : hash)
    if (c == ':' || c < 0x20 || c == 0x7f) throw std::runtime_error("the password hash holds ':' or a control character");
  return {name, name + ":" + hash + ":" + name + ":" + name + "@wiki.invalid:admin,user"};
}

}  // namespace dokuwiki
