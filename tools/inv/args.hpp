// args.hpp: typed command-line flags for the `inv` command.
//
// Each subcommand declares its flags (name, type, default, help) in a FlagSet; parse()
// then checks every argument and fails with one clear line (a UsageError) that names
// the flag and what it accepts:
//   inv sweep: --epochs: expected an integer >= 1, got '-3'
//   inv sweep: --augment: expected true, false, 1, 0, yes or no, got 'maybe'
//   inv sweep: unknown flag '--epoch' (did you mean --epochs?); valid flags: --dataset, ...
//
// Syntax: `--name value` or `--name=value`. A boolean flag given alone (`--quiet`, at the
// end or followed by another flag) means true; otherwise its value must be one of
// true/false/1/0/yes/no. `--help` (or `-h`) anywhere asks for the subcommand's help.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace cli {

/// A command-line mistake: printed as "inv <command>: <message>", exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class FlagType { Bool, Int, Float, Text, Choice, List };

/// One flag: its type, the value range or choices, a default shown in the help, the help.
struct Flag {
  std::string name;     // without the leading "--"
  FlagType type = FlagType::Text;
  std::string metavar;  // "N", "LR", "DIR", ...
  std::string help;
  std::string default_text;          // as shown in --help ("" = no default)
  std::vector<std::string> choices;  // Choice: the values; List: the allowed items (empty = any)
  double min = -1e300, max = 1e300;  // Int and Float: the valid range
  bool min_exclusive = false;        // Float: value > min rather than >= min
};

/// The flags of one subcommand and, after parse(), the values given.
class FlagSet {
 public:
  FlagSet(std::string command, std::string usage, std::string description)
      : command_(std::move(command)), usage_(std::move(usage)), description_(std::move(description)) {}

  // Declaring flags (chainable). Ranges are inclusive unless stated.
  FlagSet& boolean(const std::string& name, const std::string& def, const std::string& help);
  FlagSet& integer(const std::string& name, const std::string& metavar, int64_t min, const std::string& def,
                   const std::string& help, int64_t max = INT64_MAX);
  FlagSet& real(const std::string& name, const std::string& metavar, double min, bool min_exclusive,
                const std::string& def, const std::string& help);
  FlagSet& text(const std::string& name, const std::string& metavar, const std::string& def, const std::string& help);
  FlagSet& choice(const std::string& name, std::vector<std::string> choices, const std::string& def,
                  const std::string& help);
  FlagSet& list(const std::string& name, const std::string& metavar, std::vector<std::string> items,
                const std::string& def, const std::string& help);
  /// A named group heading in the help output (flags declared after it belong to it).
  FlagSet& section(const std::string& title);

  /// Parses argv-style arguments (without the program and subcommand names). Returns
  /// false when help was asked for. Throws UsageError for unknown flags, missing values
  /// and invalid values. Positional arguments are collected in positional().
  bool parse(const std::vector<std::string>& args);

  bool declares(const std::string& name) const { return find(name) != nullptr; }
  bool given(const std::string& name) const { return values_.count(check_declared(name)) > 0; }
  /// The value given, or `fallback` when the flag was not given.
  bool get_bool(const std::string& name, bool fallback) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_float(const std::string& name, double fallback) const;
  std::string get_text(const std::string& name, const std::string& fallback) const;
  /// Comma-separated items, each checked against the flag's items (when it has any).
  std::vector<std::string> get_list(const std::string& name, const std::vector<std::string>& fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

  /// The help text: usage, description, then every flag with its default and meaning.
  std::string help() const;
  const std::string& command() const { return command_; }
  /// A UsageError "inv <command>: <message>".
  UsageError error(const std::string& message) const;

 private:
  const std::string& check_declared(const std::string& name) const;
  const Flag* find(const std::string& name) const;
  void validate(const Flag& f, const std::string& value) const;
  FlagSet& add(Flag f);

  std::string command_, usage_, description_;
  std::vector<Flag> flags_;
  std::vector<std::pair<size_t, std::string>> sections_;  // (index of the first flag, title)
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

/// Parsers shared with the flag set (exposed for the tests of the command and for reuse).
bool parse_bool(const std::string& text, bool& out);
bool parse_int(const std::string& text, int64_t& out);
bool parse_float(const std::string& text, double& out);
/// "a, b, c" from a list of names.
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");
/// Items of a comma-separated list, spaces trimmed, empty items dropped.
std::vector<std::string> split_list(const std::string& text);

}  // namespace cli
