// A QR code as an image (libqrencode's modules drawn into a texture, with a
// quiet zone of four modules), for Gtk::Picture.
#pragma once

#include <gdkmm/texture.h>

#include <string>

namespace tails_server::gui {

// Throws qr::QrError if `text` cannot be encoded.
Glib::RefPtr<Gdk::Texture> qr_texture(const std::string& text, int pixels_per_module = 6);

}  // namespace tails_server::gui
