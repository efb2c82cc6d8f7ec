// TailsServiceOption and its typed subclasses.
//
// An option parses user input at the boundary: parse() returns the value's
// canonical text, which is what the core stores and hands to the plugin, or
// throws OptionError saying what was wrong and what is accepted.
#pragma once

#include <tails_server/version.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server {

class Host;
class ServiceContext;

// A value was refused. what() names the option, the value (unless secret)
// and what is accepted.
class TAILS_SERVER_EXPORT OptionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class OptionKind { Boolean, Integer, Port, String, Enum, Secret, ReadOnly };

class TAILS_SERVER_EXPORT TailsServiceOption {
 public:
  TailsServiceOption(std::string name, std::string description)
      : name_(std::move(name)), description_(std::move(description)) {}
  virtual ~TailsServiceOption() = default;
  TailsServiceOption(const TailsServiceOption&) = delete;
  TailsServiceOption& operator=(const TailsServiceOption&) = delete;

  // Lower-case identifier, e.g. "server-password".
  const std::string& name() const { return name_; }
  const std::string& description() const { return description_; }
  // Label for the GUI; the name when not set.
  std::string name_in_gui;

  virtual OptionKind kind() const = 0;
  // The kind in words: "boolean", "integer", "port", "string", "enum",
  // "secret", "read-only".
  std::string type_name() const;
  // What values are accepted, in words ("true or false", "1 to 100").
  virtual std::string accepted() const = 0;
  // The canonical text of `input`; throws OptionError if it is not accepted.
  virtual std::string parse(std::string_view input) const = 0;
  // The canonical default. Secret options generate theirs with `host`.
  virtual std::string default_value(Host& host) const = 0;

  // Masked in listings; shown only when asked for by name.
  virtual bool is_secret() const { return false; }
  // Computed by the plugin, never set by the user.
  virtual bool is_read_only() const { return false; }
  // For ReadOnly options: the current value. Others: unused.
  virtual std::string compute(const ServiceContext&) const { return {}; }

 protected:
  [[noreturn]] void reject(std::string_view input, std::string_view why = {}) const;

 private:
  std::string name_;
  std::string description_;
};

using OptionPtr = std::shared_ptr<TailsServiceOption>;

class TAILS_SERVER_EXPORT BoolOption : public TailsServiceOption {
 public:
  BoolOption(std::string name, std::string description, bool default_value)
      : TailsServiceOption(std::move(name), std::move(description)), default_(default_value) {}
  OptionKind kind() const override { return OptionKind::Boolean; }
  std::string accepted() const override { return "true or false"; }
  std::string parse(std::string_view input) const override;
  std::string default_value(Host&) const override { return default_ ? "true" : "false"; }

 private:
  bool default_;
};

class TAILS_SERVER_EXPORT IntOption : public TailsServiceOption {
 public:
  IntOption(std::string name, std::string description, std::int64_t default_value,
            std::int64_t min, std::int64_t max)
      : TailsServiceOption(std::move(name), std::move(description)),
        default_(default_value), min_(min), max_(max) {}
  OptionKind kind() const override { return OptionKind::Integer; }
  std::string accepted() const override;
  std::string parse(std::string_view input) const override;
  std::string default_value(Host&) const override { return std::to_string(default_); }
  std::int64_t min() const { return min_; }
  std::int64_t max() const { return max_; }

 private:
  std::int64_t default_, min_, max_;
};

// A TCP port, 1 to 65535. A `local` port is one the service binds on this
// machine: the core refuses a value another service's local port already has.
class TAILS_SERVER_EXPORT PortOption : public IntOption {
 public:
  PortOption(std::string name, std::string description, std::uint16_t default_value, bool local)
      : IntOption(std::move(name), std::move(description), default_value, 1, 65535),
        local_(local) {}
  OptionKind kind() const override { return OptionKind::Port; }
  bool is_local() const { return local_; }

 private:
  bool local_;
};

// Rules for StringOption and SecretOption values. Every field has a default,
// so designated initializers may name only some: {.max_length = 64}.
struct StringRules {
  std::size_t min_length = 0;
  std::size_t max_length = 255;
  // Allow LF (written with the format's escape). Other control characters
  // (bytes below 0x20 and 0x7F) are always refused.
  bool allow_newlines = false;
  // Characters refused in addition to control characters.
  std::string forbidden{};
  // If not empty, the only characters accepted (e.g. a user-name alphabet).
  std::string allowed{};
  // Words for the accepted set, used in errors when `allowed` is set.
  std::string allowed_description{};
  // One more rule, for what the fields above cannot say ("must start with
  // '/'", "no space at either end"): returns why `value` is refused, or ""
  // to accept it. Runs after the other rules. `check_accepts` says in words
  // what it accepts ("not starting with '#'"); accepted() adds it.
  std::function<std::string(std::string_view value)> check{};
  std::string check_accepts{};
};

class TAILS_SERVER_EXPORT StringOption : public TailsServiceOption {
 public:
  StringOption(std::string name, std::string description, std::string default_value,
               StringRules rules = {})
      : TailsServiceOption(std::move(name), std::move(description)),
        default_(std::move(default_value)), rules_(std::move(rules)) {}
  OptionKind kind() const override { return OptionKind::String; }
  std::string accepted() const override;
  std::string parse(std::string_view input) const override;
  std::string default_value(Host&) const override { return default_; }
  const StringRules& rules() const { return rules_; }

 private:
  std::string default_;
  StringRules rules_;
};

class TAILS_SERVER_EXPORT EnumOption : public TailsServiceOption {
 public:
  EnumOption(std::string name, std::string description, std::vector<std::string> choices,
             std::string default_value)
      : TailsServiceOption(std::move(name), std::move(description)),
        choices_(std::move(choices)), default_(std::move(default_value)) {}
  OptionKind kind() const override { return OptionKind::Enum; }
  std::string accepted() const override;
  std::string parse(std::string_view input) const override;
  std::string default_value(Host&) const override { return default_; }
  const std::vector<std::string>& choices() const { return choices_; }

 private:
  std::vector<std::string> choices_;
  std::string default_;
};

// A password or other secret: generated at random on first use, masked in
// listings, never logged. A user-chosen value follows `rules` and may never
// hold control characters.
class TAILS_SERVER_EXPORT SecretOption : public StringOption {
 public:
  SecretOption(std::string name, std::string description, std::size_t generated_length,
               StringRules rules = {})
      : StringOption(std::move(name), std::move(description), {}, std::move(rules)),
        generated_length_(generated_length) {}
  OptionKind kind() const override { return OptionKind::Secret; }
  std::string parse(std::string_view input) const override;
  std::string default_value(Host& host) const override;
  bool is_secret() const override { return true; }

 private:
  std::size_t generated_length_;
};

// A value the plugin computes, such as a TLS certificate fingerprint.
class TAILS_SERVER_EXPORT ReadOnlyOption : public TailsServiceOption {
 public:
  using Compute = std::function<std::string(const ServiceContext&)>;
  ReadOnlyOption(std::string name, std::string description, Compute compute)
      : TailsServiceOption(std::move(name), std::move(description)), compute_(std::move(compute)) {}
  OptionKind kind() const override { return OptionKind::ReadOnly; }
  std::string accepted() const override { return "nothing: this value is read-only"; }
  std::string parse(std::string_view input) const override;
  std::string default_value(Host&) const override { return {}; }
  bool is_read_only() const override { return true; }
  std::string compute(const ServiceContext& context) const override { return compute_(context); }

 private:
  Compute compute_;
};

}  // namespace tails_server

#include <tails_server/option_impl.h>
