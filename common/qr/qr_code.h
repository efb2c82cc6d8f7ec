// QR codes of connection info and credentials, with libqrencode: error
// correction level M, 8-bit (byte) mode, smallest version that fits.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server::qr {

// Text that cannot be encoded: empty, or longer than a version 40 QR code
// holds at level M (2331 bytes). what() gives the size found and the limit.
class QrError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How the terminal draws text. Block characters are drawn in the foreground
// colour, spaces in the background colour.
enum class QrTerminal {
  // Dark text on a light background: dark modules are blocks, light modules
  // and the quiet zone are spaces. The default.
  dark_on_light,
  // Light text on a dark background: light modules and the quiet zone are
  // blocks, dark modules are spaces, so the code still reads dark-on-light.
  light_on_dark,
};

class QrCode {
 public:
  static constexpr std::size_t kMaxBytes = 2331;  // version 40, level M, byte mode
  static constexpr int kQuietZone = 2;             // modules around the code in to_utf8()

  // Encodes `text` byte for byte. Throws QrError if it is empty or too long
  // (or if libqrencode fails otherwise, e.g. out of memory).
  explicit QrCode(std::string_view text);

  // QR version (1..40); the code is 17 + 4 * version modules wide.
  int version() const { return version_; }
  int size() const { return static_cast<int>(modules_.size()); }
  // modules()[row][column] is true for a dark module. No quiet zone: whoever
  // draws it leaves a light margin of at least kQuietZone (better 4) modules.
  const std::vector<std::vector<bool>>& modules() const { return modules_; }
  bool dark(int row, int column) const { return modules_[row][column]; }

  // The code drawn with half blocks ("▀", "▄", "█" and space), two module
  // rows per line, kQuietZone light modules on every side, lines joined by
  // "\n" with a final "\n". ceil((size() + 4) / 2) lines of size() + 4
  // characters; an odd last row is padded with a light row.
  std::string to_utf8(QrTerminal terminal = QrTerminal::dark_on_light) const;

 private:
  int version_ = 0;
  std::vector<std::vector<bool>> modules_;
};

// QrCode(text).to_utf8(terminal). Throws QrError.
std::string qr_code_utf8(std::string_view text, QrTerminal terminal = QrTerminal::dark_on_light);

}  // namespace tails_server::qr
