// Fuzzes the control-port reply parser and the keyword and HS_DESC parsers
// with arbitrary bytes. Built with libFuzzer under clang; otherwise main()
// below replays files given on the command line (the seed corpus).
#include "tor/control_reply.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

using namespace tails_server::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Small limits so the size checks run too; the first byte picks a chunking.
  ControlReplyParser parser(ControlReplyParser::Limits{512, 4096});
  std::size_t step = size ? (data[0] % 17) + 1 : 1;
  try {
    for (std::size_t pos = 0; pos < input.size(); pos += step) {
      for (const auto& reply : parser.feed(input.substr(pos, step))) {
        (void)reply.summary();
        (void)reply.event_name();
        for (const auto& line : reply.lines) {
          try {
            (void)parse_keyword_args(line.text);
          } catch (const ControlProtocolError&) {
          }
          if (reply.event_name() == "HS_DESC") {
            try {
              (void)parse_hs_desc_event(line.text);
            } catch (const ControlProtocolError&) {
            }
          }
        }
      }
    }
  } catch (const ControlProtocolError&) {
  }
  // The helpers directly on the raw bytes.
  try {
    (void)parse_keyword_args(input);
  } catch (const ControlProtocolError&) {
  }
  try {
    (void)parse_hs_desc_event(input);
  } catch (const ControlProtocolError&) {
  }
  try {
    (void)unquote(input);
  } catch (const ControlProtocolError&) {
  }
  (void)escape_for_message(input, 64);
  return 0;
}
