#include <tails_server/option.h>

#include "host/system_host.h"

#include <doctest/doctest.h>

using namespace tails_server;

namespace {
std::string error_of(const TailsServiceOption& option, std::string_view input) {
  try {
    option.parse(input);
  } catch (const OptionError& error) {
    return error.what();
  }
  FAIL("value was accepted: " << input);
  return {};
}
}  // namespace

TEST_CASE("A bool option accepts only true and false") {
  BoolOption option("allow-lan", "LAN", false);
  CHECK(option.parse("true") == "true");
  CHECK(option.parse("false") == "false");
  for (auto bad : {"yes", "1", "True", "", "false "}) {
    auto message = error_of(option, bad);
    CHECK(message.find("'allow-lan'") != std::string::npos);
    CHECK(message.find("accepted: true or false") != std::string::npos);
  }
}

TEST_CASE("An int option checks syntax and range") {
  IntOption option("max-users", "users", 5, 1, 100);
  CHECK(option.parse("1") == "1");
  CHECK(option.parse("100") == "100");
  CHECK(error_of(option, "0").find("out of range") != std::string::npos);
  CHECK(error_of(option, "101").find("a whole number from 1 to 100") != std::string::npos);
  CHECK(error_of(option, "12a").find("not a whole number") != std::string::npos);
  CHECK(error_of(option, " 5").find("not a whole number") != std::string::npos);
  CHECK(error_of(option, "99999999999999999999").find("not a whole number") != std::string::npos);
  CHECK(error_of(option, "").find("not a whole number") != std::string::npos);
}

TEST_CASE("A port option accepts 1 to 65535 only") {
  PortOption option("virtual-port", "port", 80, false);
  CHECK(option.parse("65535") == "65535");
  CHECK(option.type_name() == "port");
  error_of(option, "0");
  error_of(option, "65536");
  error_of(option, "-1");
}

TEST_CASE("A string option refuses control characters and too long text") {
  StringOption option("welcome-message", "welcome", "hi", StringRules{0, 10, false, ";", "", ""});
  CHECK(option.parse("Ünï ok") == "Ünï ok");
  CHECK(error_of(option, "a\tb").find("control character") != std::string::npos);
  CHECK(error_of(option, "a\nb").find("control character") != std::string::npos);
  CHECK(error_of(option, "a;b").find("contains ';'") != std::string::npos);
  CHECK(error_of(option, "12345678901").find("too long") != std::string::npos);
  CHECK(error_of(option, "\xff\xfe").find("UTF-8") != std::string::npos);
  // The refused value is shown with its control characters made visible.
  CHECK(error_of(option, "a\x01").find("'a\\x01'") != std::string::npos);
}

TEST_CASE("A string option's check says what else is refused and accepted() words it") {
  StringRules rules{.min_length = 1, .max_length = 64};
  rules.check_accepts = "not starting with '#'";
  rules.check = [](std::string_view value) { return value.front() == '#' ? "starts with '#'" : ""; };
  StringOption option("user", "user", "tails", rules);
  CHECK(option.parse("ta#ils") == "ta#ils");
  CHECK(error_of(option, "#tails").find("starts with '#'") != std::string::npos);
  CHECK(option.accepted().find(", not starting with '#'") != std::string::npos);
  // The other rules come first: the check never sees an empty value.
  CHECK(error_of(option, "").find("too short") != std::string::npos);
  SecretOption secret("password", "password", 20, rules);
  CHECK(error_of(secret, "#pw").find("starts with '#'") != std::string::npos);
}

TEST_CASE("Each option kind has one name") {
  std::vector<std::pair<OptionPtr, std::string>> kinds = {
      {std::make_shared<BoolOption>("b", "b", true), "boolean"},
      {std::make_shared<IntOption>("i", "i", 1, 0, 2), "integer"},
      {std::make_shared<PortOption>("p", "p", 80, true), "port"},
      {std::make_shared<StringOption>("s", "s", ""), "string"},
      {std::make_shared<EnumOption>("e", "e", std::vector<std::string>{"x"}, "x"), "enum"},
      {std::make_shared<SecretOption>("k", "k", 8), "secret"},
      {std::make_shared<ReadOnlyOption>("r", "r", [](const ServiceContext&) { return std::string(); }), "read-only"}};
  for (const auto& [option, name] : kinds) CHECK(option->type_name() == name);
}

TEST_CASE("A string option that allows newlines still refuses other control characters") {
  StringOption option("motd", "motd", "", StringRules{0, 100, true, "", "", ""});
  CHECK(option.parse("line1\nline2") == "line1\nline2");
  error_of(option, "line1\r\nline2");
  error_of(option, std::string("a\0b", 3));
}

TEST_CASE("A string option with an alphabet names it in its error") {
  StringOption option("user", "user", "x", StringRules{1, 8, false, "", "abc", "the letters a, b and c"});
  CHECK(option.parse("abc") == "abc");
  auto message = error_of(option, "abd");
  CHECK(message.find("the letters a, b and c") != std::string::npos);
  CHECK(error_of(option, "").find("too short") != std::string::npos);
}

TEST_CASE("An enum option lists its choices") {
  EnumOption option("mode", "mode", {"fast", "safe"}, "safe");
  CHECK(option.parse("fast") == "fast");
  CHECK(error_of(option, "slow").find("one of: fast, safe") != std::string::npos);
}

TEST_CASE("A secret option is generated at random and never echoed in errors") {
  core::SystemHost host;
  SecretOption option("server-password", "password", 24, StringRules{1, 64, false, "", "", ""});
  auto a = option.default_value(host);
  auto b = option.default_value(host);
  CHECK(a.size() == 24);
  CHECK(a != b);
  CHECK(option.is_secret());
  auto message = error_of(option, "hunter2\x07");
  CHECK(message.find("hunter2") == std::string::npos);
  CHECK(message.find("(hidden)") != std::string::npos);
}

TEST_CASE("A read-only option cannot be set") {
  ReadOnlyOption option("tls-fingerprint", "fp", [](const ServiceContext&) { return std::string("AB"); });
  CHECK(error_of(option, "AB").find("cannot be set") != std::string::npos);
}
