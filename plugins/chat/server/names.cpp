#include "names.h"

#include <iterator>

#include "random.h"

namespace tails_server::chat {
namespace {

// 64 x 64 = 4096 names, more than max_users (1000) can ever hold at once.
constexpr const char* kAdjectives[] = {
    "amber",  "bold",  "brave",  "bright", "brisk",  "calm",    "clever", "cosy",   "crisp",  "curious", "daring",
    "deft",   "eager", "early",  "fair",   "fancy",  "fleet",   "fond",   "frank",  "gentle", "glad",    "golden",
    "grand",  "happy", "hardy",  "honest", "humble", "jolly",   "keen",   "kind",   "lively", "loyal",   "lucky",
    "mellow", "merry", "mighty", "modest", "noble",  "patient", "plucky", "polite", "proud",  "quick",   "quiet",
    "rapid",  "ready", "rosy",   "silent", "silver", "sleepy",  "smart",  "snowy",  "steady", "sunny",   "swift",
    "tidy",   "tiny",  "upbeat", "vivid",  "warm",   "wild",    "wise",   "witty",  "young"};
constexpr const char* kAnimals[] = {
    "badger",   "bat",    "bear",   "beaver", "bison", "crane",  "crow",   "deer",   "dolphin", "dove",    "duck",
    "eagle",    "falcon", "ferret", "finch",  "fox",   "frog",   "gecko",  "goat",   "goose",   "hare",    "hawk",
    "hedgehog", "heron",  "ibis",   "koala",  "lark",  "lemur",  "lion",   "llama",  "lynx",    "magpie",  "marmot",
    "mole",     "moose",  "moth",   "newt",   "otter", "owl",    "panda",  "parrot", "pelican", "penguin", "pigeon",
    "puffin",   "quail",  "rabbit", "raven",  "robin", "salmon", "seal",   "shrew",  "sparrow", "squid",   "stoat",
    "swan",     "tapir",  "tiger",  "toad",   "trout", "turtle", "walrus", "whale",  "wren"};
constexpr std::uint32_t kAdjectiveCount = std::size(kAdjectives);
constexpr std::uint32_t kAnimalCount = std::size(kAnimals);

}  // namespace

std::string random_name(const std::function<bool(const std::string&)>& taken) {
  std::string name;
  for (int attempt = 0; attempt < 64; ++attempt) {
    name = std::string(kAdjectives[random_below(kAdjectiveCount)]) + "-" + kAnimals[random_below(kAnimalCount)];
    if (!taken(name)) return name;
  }
  for (std::uint32_t suffix = 2;; ++suffix) {
    const std::string numbered = name + "-" + std::to_string(suffix);
    if (!taken(numbered)) return numbered;
  }
}

}  // namespace tails_server::chat
