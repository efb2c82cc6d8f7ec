#include <doctest/doctest.h>

#include <sstream>

#include "qr/qr_code.h"
#include "key_test_support.h"

using namespace tails_server::qr;
using namespace tails_server::test;
using namespace tails_server::test::keys;

namespace {

// A finder pattern: a 7x7 dark ring, a light ring, a dark 3x3 centre, with a
// light separator on its inner sides.
void check_finder(const QrCode& code, int top, int left) {
  CAPTURE(top);
  CAPTURE(left);
  for (int r = 0; r < 7; ++r) {
    for (int c = 0; c < 7; ++c) {
      bool ring = r == 0 || r == 6 || c == 0 || c == 6;
      bool centre = r >= 2 && r <= 4 && c >= 2 && c <= 4;
      CAPTURE(r);
      CAPTURE(c);
      CHECK(code.dark(top + r, left + c) == (ring || centre));
    }
  }
  int n = code.size();
  int separator_row = top == 0 ? 7 : top - 1;
  int separator_column = left == 0 ? 7 : left - 1;
  for (int i = -1; i <= 7; ++i) {
    int c = left + i, r = top + i;
    if (c >= 0 && c < n) CHECK(!code.dark(separator_row, c));
    if (r >= 0 && r < n) CHECK(!code.dark(r, separator_column));
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The characters of a UTF-8 line, each as its own string.
std::vector<std::string> characters(const std::string& line) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < line.size();) {
    auto lead = static_cast<unsigned char>(line[i]);
    std::size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    out.push_back(line.substr(i, length));
    i += length;
  }
  return out;
}

}  // namespace

TEST_CASE("QR code of a short text is version 1 with finder patterns in three corners") {
  QrCode code("hello");
  CHECK(code.version() == 1);
  CHECK(code.size() == 21);
  REQUIRE(code.modules().size() == 21);
  for (const auto& row : code.modules()) CHECK(row.size() == 21);
  check_finder(code, 0, 0);
  check_finder(code, 0, 21 - 7);
  check_finder(code, 21 - 7, 0);
}

TEST_CASE("QR code of an onion hostname is version 4 and of an auth_private line larger") {
  QrCode hostname("25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid.onion");
  CHECK(hostname.version() == 4);  // 62 bytes: exactly version 4's byte capacity at level M
  CHECK(hostname.size() == 33);
  check_finder(hostname, 0, 0);
  check_finder(hostname, 0, 33 - 7);
  check_finder(hostname, 33 - 7, 0);
  std::string auth = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid:descriptor:x25519:"
                     "OM7TGIVRYMY6PFX6GAC6ATRTA5U6WW6U7A4ZNHQDI6OVL52XVV2Q";
  QrCode line(auth);
  CHECK(line.version() == 8);  // 127 bytes; byte capacity at level M: version 7 holds 122, version 8 holds 152
  CHECK(line.size() == 17 + 4 * line.version());
}

TEST_CASE("QR code UTF-8 has two module rows per line a quiet zone and only block characters") {
  QrCode code("hello");
  for (QrTerminal terminal : {QrTerminal::dark_on_light, QrTerminal::light_on_dark}) {
    std::string text = code.to_utf8(terminal);
    CHECK(text.back() == '\n');
    auto lines = lines_of(text);
    // 21 modules + 2 * 2 quiet = 25 rows: 13 lines, 25 characters each.
    REQUIRE(lines.size() == 13);
    const bool dark_on_light = terminal == QrTerminal::dark_on_light;
    // Drawn characters for light/light, dark/dark, dark/light (top/bottom).
    const std::string light = dark_on_light ? " " : "\u2588";
    const std::string dark = dark_on_light ? "\u2588" : " ";
    const std::string dark_over_light = dark_on_light ? "\u2580" : "\u2584";
    // The last line holds padded row 24 (quiet) over the terminal's own
    // background, where nothing is drawn.
    const std::string last = dark_on_light ? " " : "\u2580";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      CAPTURE(i);
      auto chars = characters(lines[i]);
      REQUIRE(chars.size() == 25);
      for (const auto& c : chars) CHECK((c == " " || c == "\u2580" || c == "\u2584" || c == "\u2588"));
      // Quiet zone: two light columns on each side.
      for (int k : {0, 1, 23, 24}) CHECK(chars[k] == (i + 1 == lines.size() ? last : light));
    }
    // Quiet zone: the first line holds padded rows 0-1, both light.
    for (const auto& c : characters(lines.front())) CHECK(c == light);
    for (const auto& c : characters(lines.back())) CHECK(c == last);
    // Line 1 holds padded rows 2-3 = code rows 0-1: the top-left finder's
    // first row is dark in code columns 0-6 (characters 2-8), its second
    // only in columns 0 and 6.
    auto second = characters(lines[1]);
    CHECK(second[2] == dark);
    CHECK(second[8] == dark);
    for (int k = 3; k < 8; ++k) CHECK(second[k] == dark_over_light);
    CHECK(second[9] == light);  // separator column
  }
  CHECK(qr_code_utf8("hello") == code.to_utf8());
}

TEST_CASE("QR code refuses empty and too long text with a clear error") {
  CHECK(contains(error_of<QrError>([] { QrCode code(""); }), "expected some text"));
  std::string max(QrCode::kMaxBytes, 'a');
  QrCode biggest(max);
  CHECK(biggest.version() == 40);
  CHECK(biggest.size() == 177);
  std::string message = error_of<QrError>([&] { QrCode code(max + "a"); });
  CHECK(contains(message, "2332 bytes long"));
  CHECK(contains(message, "at most 2331 bytes"));
}
