#include "tor/control_reply.h"

#include <cstdio>

namespace tails_server::core {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A keyword in an event's KEY=VALUE: upper-case letters, digits and '_',
// starting with a letter. Base64 descriptor IDs ending in '=' never match
// because their value would be empty.
bool is_event_keyword(std::string_view key) {
  if (key.empty() || key[0] < 'A' || key[0] > 'Z') return false;
  for (char c : key)
    if (!((c >= 'A' && c <= 'Z') || is_digit(c) || c == '_')) return false;
  return true;
}

// Reads a QuotedString starting at text[pos] == '"'. Returns the decoded
// value and sets `pos` past the closing quote.
std::string read_quoted(std::string_view text, std::size_t& pos) {
  std::string out;
  std::size_t start = pos;
  ++pos;  // opening quote
  while (pos < text.size()) {
    char c = text[pos];
    if (c == '"') {
      ++pos;
      return out;
    }
    if (c != '\\') {
      out += c;
      ++pos;
      continue;
    }
    if (++pos >= text.size()) break;
    char e = text[pos];
    if (e >= '0' && e <= '7') {
      unsigned value = 0;
      int digits = 0;
      while (digits < 3 && pos < text.size() && text[pos] >= '0' && text[pos] <= '7') {
        value = value * 8 + static_cast<unsigned>(text[pos] - '0');
        ++pos;
        ++digits;
      }
      if (value > 0377)
        throw ControlProtocolError("expected an octal escape from \\0 to \\377 in a quoted string, found " +
                                   escape_for_message(text.substr(start)));
      out += static_cast<char>(value);
      continue;
    }
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      default: out += e; break;  // \" \\ and any other \x mean x
    }
    ++pos;
  }
  throw ControlProtocolError("expected a closing '\"' in quoted string " + escape_for_message(text.substr(start)));
}

// Splits `text` at spaces into raw tokens; a quoted part may hold spaces.
// Each token is returned with its quotes and escapes intact.
std::vector<std::string_view> split_tokens(std::string_view text) {
  std::vector<std::string_view> tokens;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    std::size_t start = pos;
    while (pos < text.size() && text[pos] != ' ') {
      if (text[pos] == '"') {
        read_quoted(text, pos);  // validates and skips
        if (pos < text.size() && text[pos] != ' ')
          throw ControlProtocolError("expected a space after a quoted string, found " +
                                     escape_for_message(text.substr(start)));
        break;
      }
      ++pos;
    }
    tokens.push_back(text.substr(start, pos - start));
  }
  return tokens;
}

// A raw token's value: decoded if it is quoted, else as is.
std::string token_value(std::string_view raw) {
  if (!raw.empty() && raw[0] == '"') return unquote(raw);
  return std::string(raw);
}

}  // namespace

std::string escape_for_message(std::string_view text, std::size_t max) {
  std::string out = "\"";
  std::size_t n = 0;
  for (char ch : text) {
    if (n++ == max) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(ch);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c == '"' || c == '\\') (out += '\\') += ch;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

std::string ControlReply::summary() const {
  std::string text = lines.empty() ? std::string() : lines.front().text;
  std::string escaped = escape_for_message(text);
  // Without the quotes: the status code already frames it.
  return std::to_string(status) + " " + escaped.substr(1, escaped.size() - 2);
}

std::string ControlReply::event_name() const {
  if (!is_event() || lines.empty()) return {};
  const std::string& text = lines.front().text;
  return text.substr(0, text.find(' '));
}

void ControlReplyParser::fail(const std::string& message) {
  error_ = message;
  line_.clear();
  current_ = {};
  throw ControlProtocolError(message);
}

std::vector<ControlReply> ControlReplyParser::feed(std::string_view bytes) {
  if (error_) throw ControlProtocolError(*error_);
  done_.clear();
  while (!bytes.empty()) {
    auto newline = bytes.find('\n');
    std::string_view chunk = bytes.substr(0, newline == std::string_view::npos ? bytes.size() : newline + 1);
    if (line_.size() + chunk.size() > limits_.max_line)
      fail("expected a control-port line of at most " + std::to_string(limits_.max_line) +
           " bytes, found a longer one starting " + escape_for_message(line_ + std::string(chunk), 80));
    line_.append(chunk);
    bytes.remove_prefix(chunk.size());
    if (newline == std::string_view::npos) break;
    std::string_view line(line_);
    line.remove_suffix(1);  // '\n'
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    reply_size_ += line_.size();
    if (reply_size_ > limits_.max_reply)
      fail("expected a control-port reply of at most " + std::to_string(limits_.max_reply) +
           " bytes, found a longer one starting " +
           escape_for_message(current_.lines.empty() ? std::string(line) : current_.lines.front().text, 80));
    take_line(line);
    line_.clear();
  }
  return std::move(done_);
}

void ControlReplyParser::take_line(std::string_view line) {
  if (in_data_) {
    if (line == ".") {
      in_data_ = false;
      return;
    }
    if (!line.empty() && line[0] == '.') line.remove_prefix(1);
    std::string& data = current_.lines.back().data;
    data.append(line);
    data += '\n';
    return;
  }
  if (line.size() < 4 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
      (line[3] != '-' && line[3] != '+' && line[3] != ' '))
    fail("expected a reply line of a 3-digit status code and '-', '+' or ' ', found " +
         escape_for_message(line));
  int status = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (current_.lines.empty()) {
    current_.status = status;
  } else if (status != current_.status) {
    fail("expected status " + std::to_string(current_.status) +
         " on every line of a reply, found " + escape_for_message(line));
  }
  current_.lines.push_back(ReplyLine{line[3], std::string(line.substr(4)), {}});
  if (line[3] == '+') {
    in_data_ = true;
  } else if (line[3] == ' ') {
    done_.push_back(std::move(current_));
    current_ = {};
    reply_size_ = 0;
  }
}

std::optional<std::string> KeywordArgs::find(std::string_view key) const {
  for (const auto& [k, v] : keywords)
    if (k == key) return v;
  return std::nullopt;
}

std::string unquote(std::string_view quoted) {
  if (quoted.empty() || quoted[0] != '"')
    throw ControlProtocolError("expected a quoted string, found " + escape_for_message(quoted));
  std::size_t pos = 0;
  std::string value = read_quoted(quoted, pos);
  if (pos != quoted.size())
    throw ControlProtocolError("expected the quoted string to end at its closing quote, found " +
                               escape_for_message(quoted));
  return value;
}

KeywordArgs parse_keyword_args(std::string_view text) {
  KeywordArgs args;
  for (std::string_view token : split_tokens(text)) {
    auto eq = token.find('=');
    auto quote = token.find('"');
    if (eq == std::string_view::npos || eq == 0 || (quote != std::string_view::npos && quote < eq)) {
      args.positional.push_back(token_value(token));
      continue;
    }
    std::string_view value = token.substr(eq + 1);
    if (!value.empty() && value[0] == '"')
      args.keywords.emplace_back(std::string(token.substr(0, eq)), unquote(value));
    else if (value.find('"') != std::string_view::npos)
      throw ControlProtocolError("expected a quote only at the start of a value, found " +
                                 escape_for_message(token));
    else
      args.keywords.emplace_back(std::string(token.substr(0, eq)), std::string(value));
  }
  return args;
}

HsDescEvent parse_hs_desc_event(std::string_view text) {
  auto tokens = split_tokens(text);
  if (tokens.empty() || tokens[0] != "HS_DESC")
    throw ControlProtocolError("expected an event starting with HS_DESC, found " + escape_for_message(text));
  if (tokens.size() < 5)
    throw ControlProtocolError("expected HS_DESC Action HSAddress AuthType HsDir, found " +
                               escape_for_message(text));
  HsDescEvent event;
  event.action = token_value(tokens[1]);
  event.address = token_value(tokens[2]);
  event.auth_type = token_value(tokens[3]);
  event.hsdir = token_value(tokens[4]);
  for (std::size_t i = 5; i < tokens.size(); ++i) {
    std::string_view token = tokens[i];
    auto eq = token.find('=');
    if (eq != std::string_view::npos && eq + 1 < token.size() && is_event_keyword(token.substr(0, eq))) {
      std::string key(token.substr(0, eq));
      std::string value = token_value(token.substr(eq + 1));
      if (key == "REASON") event.reason = value;
      else event.other.emplace_back(std::move(key), std::move(value));
    } else if (i == 5) {
      event.descriptor_id = token_value(token);
    } else {
      throw ControlProtocolError("expected KEY=VALUE after the HS_DESC descriptor ID, found " +
                                 escape_for_message(token) + " in " + escape_for_message(text));
    }
  }
  return event;
}

}  // namespace tails_server::core
