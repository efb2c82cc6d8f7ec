// Exact outputs of the SDK escapers; the plugins' tests check them against
// the real programs.
#include <tails_server/escape.h>

#include <doctest/doctest.h>

using namespace tails_server::escape;

TEST_CASE("QSettings ini values are always quoted and escaped") {
  CHECK(qsettings_ini("a,b") == "\"a,b\"");
  CHECK(qsettings_ini("pa;ss") == "\"pa;ss\"");
  CHECK(qsettings_ini("say \"hi\"\\") == "\"say \\\"hi\\\"\\\\\"");
  CHECK(qsettings_ini("l1\nl2\r\t") == "\"l1\\nl2\\r\\t\"");
  CHECK(qsettings_ini("@ByteArray(x)") == "\"@@ByteArray(x)\"");
  CHECK(qsettings_ini("a@b") == "\"a@b\"");
  CHECK(qsettings_ini("") == "\"\"");
  CHECK_THROWS_AS(qsettings_ini(std::string("a\x01", 2)), EscapeError);
}

TEST_CASE("Lua strings cannot be ended early") {
  CHECK(lua_string("x\") os.exit() --") == "\"x\\\") os.exit() --\"");
  CHECK(lua_string("C:\\dir") == "\"C:\\\\dir\"");
  CHECK(lua_string("a\nb\rc") == "\"a\\nb\\rc\"");
  CHECK(lua_string(std::string("\0\x1f\x7f", 3)) == "\"\\000\\031\\127\"");
  CHECK(lua_string("]] [[") == "\"]] [[\"");
  CHECK(lua_string("Ünï") == "\"Ünï\"");
}

TEST_CASE("GKeyFile values keep a leading space and backslashes") {
  CHECK(gkeyfile_string(" p#w;d\\x=y\"q\" ") == "\\sp#w;d\\\\x=y\"q\" ");
  CHECK(gkeyfile_string("a\nb\tc\r") == "a\\nb\\tc\\r");
  CHECK(gkeyfile_string("a;b,c", true) == "a\\;b,c");
  CHECK_THROWS_AS(gkeyfile_string(std::string("\x02", 1)), EscapeError);
}

TEST_CASE("nginx strings escape quotes and dollars") {
  CHECK(nginx_string("/var/www/my site", true) == "\"/var/www/my site\"");
  CHECK(nginx_string("a\"b\\c", false) == "\"a\\\"b\\\\c\"");
  CHECK(nginx_string("cost $5", true) == "\"cost ${tails_server_dollar}5\"");
  CHECK(nginx_string("cost $5", false) == "\"cost $5\"");
  CHECK(nginx_dollar_definition() == "geo $tails_server_dollar { default \"$\"; }\n");
  CHECK_THROWS_AS(nginx_string("a\nb", true), EscapeError);
}

TEST_CASE("a format without quoting gets the value unchanged or a refusal naming the format") {
  CHECK(unquoted("/var/lib/x", "a systemd unit word", " \t\"'\\") == "/var/lib/x");
  CHECK_THROWS_WITH_AS(unquoted("a b", "a systemd unit word", " "), "a systemd unit word cannot hold ' '", EscapeError);
  CHECK_THROWS_WITH_AS(unquoted(std::string("a\nb"), "a password-file line", ":"),
                       "a password-file line cannot hold the control character 0x0A", EscapeError);
  CHECK_THROWS_AS(unquoted("", "a password-file line", ":"), EscapeError);
}

TEST_CASE("XML text holds markup characters as entities and refuses what XML 1.0 cannot hold") {
  CHECK(xml_text("") == "");
  CHECK(xml_text("plain /stream.ogg") == "plain /stream.ogg");
  CHECK(xml_text("a&b") == "a&amp;b");
  CHECK(xml_text("</source-password><relay>") == "&lt;/source-password&gt;&lt;relay&gt;");
  CHECK(xml_text("<!-- c -->") == "&lt;!-- c --&gt;");
  CHECK(xml_text("]]>") == "]]&gt;");
  CHECK(xml_text("<![CDATA[x]]>") == "&lt;![CDATA[x]]&gt;");
  CHECK(xml_text("\"q\" 'a'") == "&quot;q&quot; &apos;a&apos;");
  CHECK(xml_text("&amp;") == "&amp;amp;");
  CHECK(xml_text("t\tl\nc\r") == "t&#9;l&#10;c&#13;");
  CHECK(xml_text(" both ends ") == " both ends ");
  CHECK(xml_text("Ünïcödé ☃") == "Ünïcödé ☃");
  CHECK_THROWS_AS(xml_text(std::string("nul\0", 4)), EscapeError);
  CHECK_THROWS_AS(xml_text("a\x01"), EscapeError);
  CHECK_THROWS_AS(xml_text("esc\x1b"), EscapeError);
  CHECK_THROWS_AS(xml_text("del\x7f"), EscapeError);
}
