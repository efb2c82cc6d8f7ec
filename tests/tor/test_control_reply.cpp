// The control-port reply parser, keyword arguments and HS_DESC events.
#include "tor/control_reply.h"

#include <doctest/doctest.h>

#include <string>

using namespace tails_server::core;

namespace {

std::vector<ControlReply> parse_all(std::string_view bytes) {
  ControlReplyParser parser;
  auto replies = parser.feed(bytes);
  CHECK(parser.idle());
  return replies;
}

const std::string getinfo_detached =
    "250+onions/detached=\r\n"
    "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid\r\n"
    "..starts with a dot\r\n"
    "t6nu265bhc4nmyoqx4ma5g2t23iuij5sz3gatfgljwfbjskeeg4ji4id\r\n"
    ".\r\n"
    "250 OK\r\n";

}  // namespace

TEST_CASE("A single-line reply has its status and text") {
  auto replies = parse_all("250 OK\r\n");
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].status == 250);
  CHECK(replies[0].ok());
  CHECK_FALSE(replies[0].is_event());
  REQUIRE(replies[0].lines.size() == 1);
  CHECK(replies[0].lines[0].separator == ' ');
  CHECK(replies[0].lines[0].text == "OK");
  CHECK(replies[0].summary() == "250 OK");
}

TEST_CASE("Mid lines belong to the reply their end line finishes") {
  auto replies = parse_all(
      "250-PROTOCOLINFO 1\r\n"
      "250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"/var/lib/tor/control_auth_cookie\"\r\n"
      "250-VERSION Tor=\"0.4.9.11\"\r\n"
      "250 OK\r\n");
  REQUIRE(replies.size() == 1);
  REQUIRE(replies[0].lines.size() == 4);
  CHECK(replies[0].lines[0].separator == '-');
  CHECK(replies[0].lines[1].text == "AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"/var/lib/tor/control_auth_cookie\"");
  CHECK(replies[0].lines[3].separator == ' ');
}

TEST_CASE("A data block is dot-unstuffed and ends at the lone dot") {
  auto replies = parse_all(getinfo_detached);
  REQUIRE(replies.size() == 1);
  REQUIRE(replies[0].lines.size() == 2);
  CHECK(replies[0].lines[0].separator == '+');
  CHECK(replies[0].lines[0].text == "onions/detached=");
  CHECK(replies[0].lines[0].data ==
        "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid\n"
        ".starts with a dot\n"
        "t6nu265bhc4nmyoqx4ma5g2t23iuij5sz3gatfgljwfbjskeeg4ji4id\n");
  CHECK(replies[0].lines[1].text == "OK");
}

TEST_CASE("A data line that looks like a reply line stays data") {
  auto replies = parse_all("250+x=\r\n250 OK\r\n.\r\n250 OK\r\n");
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].lines[0].data == "250 OK\n");
}

TEST_CASE("Bare LF line ends are accepted like CRLF") {
  auto replies = parse_all("250-a\n250+b=\nx\n.\n250 OK\n");
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].lines[1].data == "x\n");
}

TEST_CASE("A reply split at every byte boundary parses the same") {
  std::string input = "650 HS_DESC CREATED abc UNKNOWN UNKNOWN id\r\n" + getinfo_detached + "250 OK\r\n";
  auto whole = parse_all(input);
  REQUIRE(whole.size() == 3);
  for (std::size_t a = 0; a <= input.size(); ++a) {
    for (std::size_t b = a; b <= input.size(); b += 7) {
      ControlReplyParser parser;
      std::vector<ControlReply> got;
      for (auto part : {std::string_view(input).substr(0, a), std::string_view(input).substr(a, b - a),
                        std::string_view(input).substr(b)}) {
        auto replies = parser.feed(part);
        got.insert(got.end(), replies.begin(), replies.end());
      }
      REQUIRE(got.size() == whole.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].status == whole[i].status);
        REQUIRE(got[i].lines.size() == whole[i].lines.size());
        for (std::size_t j = 0; j < got[i].lines.size(); ++j) {
          CHECK(got[i].lines[j].text == whole[i].lines[j].text);
          CHECK(got[i].lines[j].data == whole[i].lines[j].data);
        }
      }
    }
  }
  // And one byte at a time.
  ControlReplyParser parser;
  std::size_t count = 0;
  for (char c : input) count += parser.feed(std::string_view(&c, 1)).size();
  CHECK(count == 3);
}

TEST_CASE("Events before a command's reply come out as separate 650 replies in order") {
  auto replies = parse_all(
      "650 HS_DESC UPLOAD abc UNKNOWN $AAAA~relay id HSDIR_INDEX=00\r\n"
      "650-STATUS_GENERAL NOTICE X\r\n650 OK\r\n"
      "250-ServiceID=abc\r\n250 OK\r\n");
  REQUIRE(replies.size() == 3);
  CHECK(replies[0].is_event());
  CHECK(replies[0].event_name() == "HS_DESC");
  CHECK(replies[1].is_event());
  CHECK(replies[1].lines.size() == 2);
  CHECK_FALSE(replies[2].is_event());
  CHECK(replies[2].lines[0].text == "ServiceID=abc");
}

TEST_CASE("Quoted strings decode C escapes") {
  CHECK(unquote(R"("a\nb\tc\rd\"e\\f")") == "a\nb\tc\rd\"e\\f");
  CHECK(unquote(R"("\101\0\377\7")") == std::string("A\0\xff\x07", 4));
  CHECK(unquote(R"("\q")") == "q");
  CHECK(unquote(R"("")") == "");
  CHECK_THROWS_AS(unquote(R"("\400")"), ControlProtocolError);
  CHECK_THROWS_AS(unquote(R"("abc)"), ControlProtocolError);
  CHECK_THROWS_AS(unquote(R"("abc\")"), ControlProtocolError);
  CHECK_THROWS_AS(unquote(R"("a"b)"), ControlProtocolError);
  CHECK_THROWS_AS(unquote("abc"), ControlProtocolError);
}

TEST_CASE("Keyword arguments hold positional words and quoted values") {
  auto args = parse_keyword_args(R"(AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/run/a dir/\"c\"\\x\n")");
  REQUIRE(args.positional.size() == 1);
  CHECK(args.positional[0] == "AUTH");
  CHECK(args.find("METHODS") == "COOKIE,SAFECOOKIE");
  CHECK(args.find("COOKIEFILE") == "/run/a dir/\"c\"\\x\n");
  CHECK_FALSE(args.find("cookiefile"));

  auto challenge = parse_keyword_args("AUTHCHALLENGE SERVERHASH=0A1B SERVERNONCE=FF00");
  CHECK(challenge.find("SERVERHASH") == "0A1B");
  CHECK(challenge.find("SERVERNONCE") == "FF00");

  auto service = parse_keyword_args("ServiceID=25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid");
  CHECK(service.find("ServiceID") == "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid");

  CHECK(parse_keyword_args("  A=  B=\"\"  ").find("B") == "");
  CHECK_THROWS_AS(parse_keyword_args("A=\"unterminated"), ControlProtocolError);
  CHECK_THROWS_AS(parse_keyword_args("A=\"x\"y"), ControlProtocolError);
  CHECK_THROWS_AS(parse_keyword_args("A=x\"y\""), ControlProtocolError);
}

TEST_CASE("An HS_DESC UPLOADED event gives action address and hsdir") {
  auto e = parse_hs_desc_event(
      "HS_DESC UPLOADED 25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid UNKNOWN "
      "$F7E2A2D8F0C0E0A08D7E6B1A4C7B3A8E4F2D1C0B~auth2");
  CHECK(e.action == "UPLOADED");
  CHECK(e.address == "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid");
  CHECK(e.auth_type == "UNKNOWN");
  CHECK(e.hsdir == "$F7E2A2D8F0C0E0A08D7E6B1A4C7B3A8E4F2D1C0B~auth2");
  CHECK(e.descriptor_id.empty());
  CHECK(e.reason.empty());
}

TEST_CASE("An HS_DESC event keeps its descriptor ID and keyword fields") {
  auto upload = parse_hs_desc_event(
      "HS_DESC UPLOAD abc UNKNOWN $AB~relay1 n8QHQtHDkRrS1J0b6tq6Vw1KzqIi+/1lNl2dPZ0W0Rw= HSDIR_INDEX=0A0B");
  CHECK(upload.descriptor_id == "n8QHQtHDkRrS1J0b6tq6Vw1KzqIi+/1lNl2dPZ0W0Rw=");
  REQUIRE(upload.other.size() == 1);
  CHECK(upload.other[0].first == "HSDIR_INDEX");

  auto failed = parse_hs_desc_event("HS_DESC FAILED abc NO_AUTH $AB REASON=UPLOAD_REJECTED");
  CHECK(failed.action == "FAILED");
  CHECK(failed.reason == "UPLOAD_REJECTED");
  CHECK(failed.descriptor_id.empty());
}

TEST_CASE("A malformed HS_DESC event is refused with the offending text") {
  CHECK_THROWS_WITH_AS(parse_hs_desc_event("HS_DESC UPLOADED abc"),
                       doctest::Contains("expected HS_DESC Action HSAddress AuthType HsDir"), ControlProtocolError);
  CHECK_THROWS_AS(parse_hs_desc_event("CIRC 1 BUILT"), ControlProtocolError);
  CHECK_THROWS_AS(parse_hs_desc_event("HS_DESC A b c d id junk"), ControlProtocolError);
}

TEST_CASE("A line without a status code is an error naming what was expected and found") {
  ControlReplyParser parser;
  try {
    parser.feed("hello\x01\r\n");
    FAIL("no error");
  } catch (const ControlProtocolError& e) {
    std::string what = e.what();
    CHECK(what.find("expected a reply line of a 3-digit status code") != std::string::npos);
    CHECK(what.find("\"hello\\x01\"") != std::string::npos);
  }
  // The parser stays broken.
  CHECK_THROWS_AS(parser.feed("250 OK\r\n"), ControlProtocolError);
}

TEST_CASE("Malformed reply lines are refused") {
  for (const char* bad : {"25 OK\r\n", "250\r\n", "250*OK\r\n", "2x0 OK\r\n", "\r\n", "250-a\r\n251 b\r\n"}) {
    ControlReplyParser parser;
    CHECK_THROWS_AS(parser.feed(bad), ControlProtocolError);
  }
}

TEST_CASE("An oversize line is refused before the line end arrives") {
  ControlReplyParser parser(ControlReplyParser::Limits{1024, 1 << 20});
  std::string chunk(600, 'a');
  CHECK(parser.feed("250-" + chunk).empty());
  CHECK_THROWS_WITH_AS(parser.feed(chunk), doctest::Contains("at most 1024 bytes"), ControlProtocolError);
}

TEST_CASE("An oversize reply is refused at the default 1 MiB limit") {
  ControlReplyParser parser;
  std::string line = "250-" + std::string(1000, 'x') + "\r\n";
  bool thrown = false;
  try {
    for (int i = 0; i < 2000; ++i) parser.feed(line);
  } catch (const ControlProtocolError& e) {
    thrown = true;
    CHECK(std::string(e.what()).find("reply of at most 1048576 bytes") != std::string::npos);
  }
  CHECK(thrown);
}

TEST_CASE("An oversize data block is refused") {
  ControlReplyParser parser;
  CHECK(parser.feed("250+big=\r\n").empty());
  std::string data_line(500, 'd');
  data_line += "\r\n";
  CHECK_THROWS_AS(
      [&] {
        for (int i = 0; i < 5000; ++i) parser.feed(data_line);
      }(),
      ControlProtocolError);
}

TEST_CASE("Messages escape control bytes and cut long text") {
  CHECK(escape_for_message("a\"b\\c\n\x7f") == "\"a\\\"b\\\\c\\n\\x7f\"");
  CHECK(escape_for_message(std::string(300, 'z'), 10) == "\"zzzzzzzzzz...\"");
}
