#include "qr/qr_code.h"

#include <cerrno>
#include <cstring>
#include <memory>

#include <qrencode.h>

namespace tails_server::qr {

namespace {

struct QrDeleter {
  void operator()(QRcode* code) const { QRcode_free(code); }
};

}  // namespace

QrCode::QrCode(std::string_view text) {
  if (text.empty()) throw QrError("cannot make a QR code: expected some text, found none");
  if (text.size() > kMaxBytes)
    throw QrError("cannot make a QR code: the text is " + std::to_string(text.size()) +
                  " bytes long, at most " + std::to_string(kMaxBytes) + " bytes fit (version 40, level M)");
  errno = 0;
  std::unique_ptr<QRcode, QrDeleter> code(QRcode_encodeData(static_cast<int>(text.size()),
                                                            reinterpret_cast<const unsigned char*>(text.data()), 0,
                                                            QR_ECLEVEL_M));
  if (!code) {
    int error = errno;
    if (error == ERANGE)
      throw QrError("cannot make a QR code: the text is " + std::to_string(text.size()) +
                    " bytes long, too long for a QR code at level M");
    throw QrError(std::string("cannot make a QR code: libqrencode failed: ") + std::strerror(error));
  }
  version_ = code->version;
  const int width = code->width;
  modules_.assign(static_cast<std::size_t>(width), std::vector<bool>(static_cast<std::size_t>(width), false));
  for (int row = 0; row < width; ++row)
    for (int column = 0; column < width; ++column)
      modules_[row][column] = (code->data[row * width + column] & 1) != 0;
}

std::string QrCode::to_utf8(QrTerminal terminal) const {
  const int n = size();
  const int padded = n + 2 * kQuietZone;
  // Dark in the padded picture; outside the code (quiet zone) is light.
  auto dark_at = [&](int row, int column) {
    row -= kQuietZone;
    column -= kQuietZone;
    return row >= 0 && row < n && column >= 0 && column < n && modules_[row][column];
  };
  // A cell is drawn (foreground) where the module is dark on a dark-on-light
  // terminal, or light on a light-on-dark one.
  const bool draw_dark = terminal == QrTerminal::dark_on_light;
  std::string out;
  for (int row = 0; row < padded; row += 2) {
    for (int column = 0; column < padded; ++column) {
      bool top = dark_at(row, column) == draw_dark;
      // Below the last row lies the background: nothing drawn there.
      bool bottom = row + 1 < padded ? dark_at(row + 1, column) == draw_dark : false;
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += '\n';
  }
  return out;
}

std::string qr_code_utf8(std::string_view text, QrTerminal terminal) { return QrCode(text).to_utf8(terminal); }

}  // namespace tails_server::qr
