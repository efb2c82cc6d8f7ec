// Parsing what Tor's control port sends: replies, events, keyword arguments
// and HS_DESC events (control-spec §2.3, §2.4, §2.1.1, §4.1.25).
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tails_server::core {

// Tor sent something the control protocol does not allow, or more than we
// accept. The message says what was expected and quotes (escaped) what came.
class ControlProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One line of a reply: "250-text", "250+text" (then a data block), "250 text".
struct ReplyLine {
  char separator = ' ';  // '-' more lines follow, '+' data block follows, ' ' last line
  std::string text;      // after the separator, without the line end
  std::string data;      // for '+': the data block, dot-unstuffed, every line ending in "\n"
};

// A complete reply. All its lines share one status code.
struct ControlReply {
  int status = 0;
  std::vector<ReplyLine> lines;  // never empty in a parsed reply

  // 650: an asynchronous event, not the answer to a command.
  bool is_event() const { return status == 650; }
  // 2xx: the command succeeded.
  bool ok() const { return status >= 200 && status < 300; }
  // "512 Failed to decode ED25519-V3 key": the status and the first line,
  // escaped for messages.
  std::string summary() const;
  // The first word of an event's first line ("HS_DESC"), or "".
  std::string event_name() const;
};

// Splits bytes from Tor into replies. Accepts any chunking, CRLF or bare LF.
class ControlReplyParser {
 public:
  struct Limits {
    std::size_t max_line = 64 * 1024;     // bytes in one line, line end included
    std::size_t max_reply = 1024 * 1024;  // bytes in one reply, data blocks included
  };

  ControlReplyParser() = default;
  explicit ControlReplyParser(Limits limits) : limits_(limits) {}

  // Consumes `bytes` and returns the replies they complete, in order.
  // Throws ControlProtocolError on malformed or oversize input; the parser is
  // then broken and every later feed() throws the same error.
  std::vector<ControlReply> feed(std::string_view bytes);

  // True when no partial line or reply is buffered.
  bool idle() const { return line_.empty() && current_.lines.empty(); }

 private:
  void take_line(std::string_view line);
  [[noreturn]] void fail(const std::string& message);

  Limits limits_;
  std::string line_;           // the incomplete line so far
  ControlReply current_;       // the incomplete reply so far
  std::size_t reply_size_ = 0;
  bool in_data_ = false;
  std::vector<ControlReply> done_;
  std::optional<std::string> error_;
};

// Arguments of a reply line: positional words and KEY=VALUE pairs, where a
// value (or word) may be a QuotedString whose C escapes are decoded.
struct KeywordArgs {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> keywords;  // in order of appearance

  // The value of the first `key` (case-sensitive), or nullopt.
  std::optional<std::string> find(std::string_view key) const;
};

// Parses e.g. `AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/run/tor/x"`.
// Throws ControlProtocolError on an unterminated quote, a bad escape, or a
// quote not followed by a space.
KeywordArgs parse_keyword_args(std::string_view text);

// Decodes a QuotedString (with its quotes) as a C string: \n \t \r \" \\,
// octal \0 to \377, any other \x as x. Throws ControlProtocolError.
std::string unquote(std::string_view quoted);

// "650 HS_DESC Action HSAddress AuthType HsDir [DescriptorID] [REASON=...] ..."
struct HsDescEvent {
  std::string action;         // REQUESTED, UPLOAD, RECEIVED, UPLOADED, IGNORE, FAILED, CREATED
  std::string address;        // the onion address without ".onion"
  std::string auth_type;      // NO_AUTH, BASIC_AUTH, STEALTH_AUTH, UNKNOWN
  std::string hsdir;          // "$FP~nick", "$FP", or UNKNOWN
  std::string descriptor_id;  // empty when absent
  std::string reason;         // REASON=..., empty when absent
  std::vector<std::pair<std::string, std::string>> other;  // REPLICA=, HSDIR_INDEX=, unknown ones
};

// Parses the text of an HS_DESC event line (starting with "HS_DESC").
// Throws ControlProtocolError when it is not one or lacks a field.
HsDescEvent parse_hs_desc_event(std::string_view text);

// `text` made safe for a message: quoted, printable ASCII kept, other bytes
// as \n, \r, \t or \xNN, cut after `max` bytes with "...".
std::string escape_for_message(std::string_view text, std::size_t max = 200);

}  // namespace tails_server::core
