// The files the dokuwiki plugin writes: DokuWiki's local.php (PHP), its ACL
// and its plain-text user list (users.auth.php).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dokuwiki {

// /etc/dokuwiki/local.php: the wiki's title (through escape::php_string), the
// ACL on, the admin group as superuser, no self-registration.
std::string render_local_php(std::string_view title);

// The template's footer (lib/tpl/dokuwiki/tpl_footer.php): Debian's without
// its "Run on Debian" button, which names the OS to every visitor.
std::string template_footer();

// The ACL written when there is none: everyone reads, logged-in users edit
// and upload (Debian's default).
std::string default_acl();

// One account of users.auth.php: "name:hash:real name:mail:groups".
struct Account {
  std::string name;
  std::string line;  // the whole line, as read or written
};

// Whether the account's groups (its last field) hold "admin".
bool is_admin(const Account& account);

// Accepted admin names: DokuWiki's own cleaned form (lower case), so that
// the name means what it says: [a-z0-9][a-z0-9._-]{0,63}. Returns why a
// name is refused, or "".
std::string check_admin_name(std::string_view name);

// The accounts of a users.auth.php file (comments and blank lines dropped).
// Throws std::runtime_error for a line that is not an account.
std::vector<Account> parse_users(std::string_view file);
// The file with `accounts`, one a line, after a header.
std::string render_users(const std::vector<Account>& accounts);
// An admin's line; `hash` is a bcrypt hash ("$2y$..."). Throws
// std::runtime_error if the hash holds ':' or a control character.
Account admin_account(const std::string& name, const std::string& hash);

}  // namespace dokuwiki
