// The last lines a systemd unit wrote to the journal, for error messages.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tails_server::core {

// The last `lines` journal entries of `unit`, oldest first, each as
// "Mon DD HH:MM:SS identifier[pid]: message": what the unit's processes
// logged (_SYSTEMD_UNIT=unit) and what systemd itself said about the unit
// (UNIT=unit from PID 1). Messages are copied as they are; nothing is added.
// Empty if the journal cannot be opened or holds nothing about the unit.
// Reads local journal files only: short, never waits for new entries.
std::vector<std::string> journal_tail(const std::string& unit, std::size_t lines = 10);

// The same lines, each indented by two spaces and ending in '\n', or
// "  (no journal entries)\n": ready to append to an error message.
std::string journal_tail_text(const std::string& unit, std::size_t lines = 10);

}  // namespace tails_server::core
