#include "systemd/journal.h"

#include <systemd/sd-journal.h>

#include <ctime>
#include <memory>
#include <string_view>

namespace tails_server::core {

namespace {

struct JournalClose {
  void operator()(sd_journal* journal) const { sd_journal_close(journal); }
};

// The value of `field` in the current entry, or empty.
std::string field(sd_journal* journal, const char* field) {
  const void* data = nullptr;
  size_t length = 0;
  if (sd_journal_get_data(journal, field, &data, &length) < 0) return {};
  std::string_view entry(static_cast<const char*>(data), length);
  std::string_view prefix(field);
  if (entry.size() <= prefix.size() || entry[prefix.size()] != '=') return {};
  return std::string(entry.substr(prefix.size() + 1));
}

std::string format_entry(sd_journal* journal) {
  std::string line;
  uint64_t usec = 0;
  if (sd_journal_get_realtime_usec(journal, &usec) >= 0) {
    std::time_t seconds = static_cast<std::time_t>(usec / 1000000);
    std::tm local{};
    char buffer[32];
    if (::localtime_r(&seconds, &local) && std::strftime(buffer, sizeof buffer, "%b %d %H:%M:%S ", &local))
      line += buffer;
  }
  std::string identifier = field(journal, "SYSLOG_IDENTIFIER");
  if (identifier.empty()) identifier = field(journal, "_COMM");
  line += identifier.empty() ? "?" : identifier;
  std::string pid = field(journal, "_PID");
  if (!pid.empty()) line += "[" + pid + "]";
  line += ": ";
  line += field(journal, "MESSAGE");
  return line;
}

}  // namespace

std::vector<std::string> journal_tail(const std::string& unit, std::size_t lines) {
  std::vector<std::string> out;
  if (lines == 0) return out;
  sd_journal* raw = nullptr;
  if (sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY) < 0) return out;
  std::unique_ptr<sd_journal, JournalClose> journal(raw);

  // (_SYSTEMD_UNIT=unit) OR (UNIT=unit AND _PID=1): like `journalctl -u`,
  // but systemd's messages only from systemd (any process may set UNIT=).
  const std::string own = "_SYSTEMD_UNIT=" + unit;
  const std::string about = "UNIT=" + unit;
  if (sd_journal_add_match(raw, own.data(), own.size()) < 0 || sd_journal_add_disjunction(raw) < 0 ||
      sd_journal_add_match(raw, about.data(), about.size()) < 0 ||
      sd_journal_add_match(raw, "_PID=1", 0) < 0)
    return out;

  if (sd_journal_seek_tail(raw) < 0) return out;
  while (out.size() < lines && sd_journal_previous(raw) > 0) out.push_back(format_entry(raw));
  return {out.rbegin(), out.rend()};
}

std::string journal_tail_text(const std::string& unit, std::size_t lines) {
  std::string text;
  for (const auto& line : journal_tail(unit, lines)) text += "  " + line + "\n";
  return text.empty() ? "  (no journal entries)\n" : text;
}

}  // namespace tails_server::core
