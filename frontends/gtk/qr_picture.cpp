#include "qr_picture.h"

#include "qr/qr_code.h"

#include <gdkmm/memorytexture.h>
#include <glibmm/bytes.h>

#include <vector>

namespace tails_server::gui {

Glib::RefPtr<Gdk::Texture> qr_texture(const std::string& text, int scale) {
  qr::QrCode code(text);
  constexpr int quiet = 4;
  const int modules = code.size() + 2 * quiet;
  const int side = modules * scale;
  std::vector<guint8> pixels(std::size_t(side) * side * 3, 0xff);
  for (int row = 0; row < code.size(); ++row)
    for (int column = 0; column < code.size(); ++column) {
      if (!code.dark(row, column)) continue;
      for (int y = 0; y < scale; ++y)
        for (int x = 0; x < scale; ++x) {
          std::size_t at = (std::size_t((row + quiet) * scale + y) * side + (column + quiet) * scale + x) * 3;
          pixels[at] = pixels[at + 1] = pixels[at + 2] = 0;
        }
    }
  auto bytes = Glib::Bytes::create(pixels.data(), pixels.size());
  return Gdk::MemoryTexture::create(side, side, Gdk::MemoryTexture::Format::R8G8B8, bytes, std::size_t(side) * 3);
}

}  // namespace tails_server::gui
