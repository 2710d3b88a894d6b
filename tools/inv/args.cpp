// args.cpp: the typed flag parser of the `inv` command (see args.hpp).
#include "args.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace cli {

// ---------------------------------------------------------------------------
// Value parsers: the whole text must be consumed.
// ---------------------------------------------------------------------------

bool parse_bool(const std::string& text, bool& out) {
  if (text == "true" || text == "1" || text == "yes") return out = true, true;
  if (text == "false" || text == "0" || text == "no") return out = false, true;
  return false;
}

bool parse_int(const std::string& text, int64_t& out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  if (text.find_first_of("xXpP") != std::string::npos) return false;  // decimal only: no hexadecimal floats
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  out = v;
  return true;
}

bool parse_float(const std::string& text, double& out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  if (text.find_first_of("xXpP") != std::string::npos) return false;  // decimal only: no hexadecimal floats
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    const size_t b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

namespace {

/// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

/// Wraps `text` to lines of at most `width` characters, each continuation indented.
std::string wrap(const std::string& text, size_t indent, size_t width) {
  std::istringstream words(text);
  std::string word, out, line;
  while (words >> word) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

}  // namespace

// ---------------------------------------------------------------------------
// Declaring flags
// ---------------------------------------------------------------------------

FlagSet& FlagSet::add(Flag f) {
  flags_.push_back(std::move(f));
  return *this;
}

FlagSet& FlagSet::boolean(const std::string& name, const std::string& def, const std::string& help) {
  return add({name, FlagType::Bool, "BOOL", help, def, {}, 0, 0, false});
}

FlagSet& FlagSet::integer(const std::string& name, const std::string& metavar, int64_t min, const std::string& def,
                          const std::string& help, int64_t max) {
  return add({name, FlagType::Int, metavar, help, def, {}, double(min), double(max), false});
}

FlagSet& FlagSet::real(const std::string& name, const std::string& metavar, double min, bool min_exclusive,
                       const std::string& def, const std::string& help) {
  return add({name, FlagType::Float, metavar, help, def, {}, min, 1e300, min_exclusive});
}

FlagSet& FlagSet::text(const std::string& name, const std::string& metavar, const std::string& def,
                       const std::string& help) {
  return add({name, FlagType::Text, metavar, help, def, {}, 0, 0, false});
}

FlagSet& FlagSet::choice(const std::string& name, std::vector<std::string> choices, const std::string& def,
                         const std::string& help) {
  return add({name, FlagType::Choice, join(choices, "|"), help, def, std::move(choices), 0, 0, false});
}

FlagSet& FlagSet::list(const std::string& name, const std::string& metavar, std::vector<std::string> items,
                       const std::string& def, const std::string& help) {
  return add({name, FlagType::List, metavar, help, def, std::move(items), 0, 0, false});
}

FlagSet& FlagSet::section(const std::string& title) {
  sections_.emplace_back(flags_.size(), title);
  return *this;
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

UsageError FlagSet::error(const std::string& message) const { return UsageError("inv " + command_ + ": " + message); }

const Flag* FlagSet::find(const std::string& name) const {
  for (const Flag& f : flags_)
    if (f.name == name) return &f;
  return nullptr;
}

const std::string& FlagSet::check_declared(const std::string& name) const {
  if (!find(name)) throw std::logic_error("inv " + command_ + ": flag --" + name + " was never declared");
  return name;
}

void FlagSet::validate(const Flag& f, const std::string& value) const {
  const std::string flag = "--" + f.name;
  switch (f.type) {
    case FlagType::Bool: {
      bool b;
      if (!parse_bool(value, b)) throw error(flag + ": expected true, false, 1, 0, yes or no, got '" + value + "'");
      return;
    }
    case FlagType::Int: {
      int64_t v;
      std::string range = f.max < 1e18 ? " in [" + format_number(f.min) + ", " + format_number(f.max) + "]"
                                       : " >= " + format_number(f.min);
      if (!parse_int(value, v) || double(v) < f.min || double(v) > f.max)
        throw error(flag + ": expected an integer" + range + ", got '" + value + "'");
      return;
    }
    case FlagType::Float: {
      double v;
      const std::string range = (f.min_exclusive ? " > " : " >= ") + format_number(f.min);
      if (!parse_float(value, v) || v < f.min || (f.min_exclusive && v == f.min))
        throw error(flag + ": expected a number" + range + ", got '" + value + "'");
      return;
    }
    case FlagType::Text:
      if (value.empty()) throw error(flag + ": expected a value, got an empty string");
      return;
    case FlagType::Choice:
      if (std::find(f.choices.begin(), f.choices.end(), value) == f.choices.end())
        throw error(flag + ": unknown value '" + value + "'; valid choices: " + join(f.choices));
      return;
    case FlagType::List: {
      const auto items = split_list(value);
      if (items.empty()) throw error(flag + ": expected a comma-separated list, got '" + value + "'");
      if (!f.choices.empty())
        for (const auto& item : items)
          if (std::find(f.choices.begin(), f.choices.end(), item) == f.choices.end())
            throw error(flag + ": unknown item '" + item + "'; valid choices: " + join(f.choices));
      return;
    }
  }
}

bool FlagSet::parse(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "--help" || a == "-h") return false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a.compare(0, 2, "--") != 0 || a == "--") {
      if (!a.empty() && a[0] == '-' && a != "-") throw error("unknown option '" + a + "' (flags start with --)");
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Flag* f = find(name);
    if (!f) {
      std::vector<std::string> names;
      std::string best;
      size_t best_d = 3;  // suggest only close names
      for (const Flag& g : flags_) {
        names.push_back("--" + g.name);
        const size_t d = edit_distance(name, g.name);
        if (d < best_d) best_d = d, best = g.name;
      }
      names.push_back("--help");
      throw error("unknown flag '--" + name + "'" + (best.empty() ? "" : " (did you mean --" + best + "?)") +
                  "; valid flags: " + join(names));
    }
    if (values_.count(name)) throw error("--" + name + " given twice");
    if (!has_value) {
      const bool next_is_value = i + 1 < args.size() && args[i + 1].compare(0, 2, "--") != 0;
      if (f->type == FlagType::Bool && !next_is_value) {
        value = "true";
      } else if (!next_is_value) {
        throw error("--" + name + ": missing value (expected " + (f->metavar.empty() ? "a value" : f->metavar) + ")");
      } else {
        value = args[++i];
      }
    }
    validate(*f, value);
    values_[name] = value;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Typed access
// ---------------------------------------------------------------------------

bool FlagSet::get_bool(const std::string& name, bool fallback) const {
  const auto it = values_.find(check_declared(name));
  bool b = fallback;
  if (it != values_.end()) parse_bool(it->second, b);
  return b;
}

int64_t FlagSet::get_int(const std::string& name, int64_t fallback) const {
  const auto it = values_.find(check_declared(name));
  int64_t v = fallback;
  if (it != values_.end()) parse_int(it->second, v);
  return v;
}

double FlagSet::get_float(const std::string& name, double fallback) const {
  const auto it = values_.find(check_declared(name));
  double v = fallback;
  if (it != values_.end()) parse_float(it->second, v);
  return v;
}

std::string FlagSet::get_text(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(check_declared(name));
  return it == values_.end() ? fallback : it->second;
}

std::vector<std::string> FlagSet::get_list(const std::string& name, const std::vector<std::string>& fallback) const {
  const auto it = values_.find(check_declared(name));
  return it == values_.end() ? fallback : split_list(it->second);
}

// ---------------------------------------------------------------------------
// Help
// ---------------------------------------------------------------------------

std::string FlagSet::help() const {
  std::string out = "usage: " + usage_ + "\n\n" + wrap(description_, 0, 88) + "\n";
  constexpr size_t kColumn = 30;
  size_t next_section = 0;
  if (sections_.empty() || sections_[0].first > 0) out += "\nflags:\n";
  for (size_t i = 0; i < flags_.size(); ++i) {
    while (next_section < sections_.size() && sections_[next_section].first == i)
      out += "\n" + sections_[next_section++].second + ":\n";
    const Flag& f = flags_[i];
    std::string left = "  --" + f.name + (f.type == FlagType::Bool ? "[=BOOL]" : " " + f.metavar);
    std::string text = f.help;
    if (f.type == FlagType::List && !f.choices.empty()) text += "; one or more of " + join(f.choices, ", ");
    if (!f.default_text.empty()) text += " (default: " + f.default_text + ")";
    if (left.size() + 2 > kColumn) {
      out += left + "\n" + std::string(kColumn, ' ');
    } else {
      out += left + std::string(kColumn - left.size(), ' ');
    }
    out += wrap(text, kColumn, 100) + "\n";
  }
  out += "  --help" + std::string(kColumn - 8, ' ') + "print this help and exit\n";
  return out;
}

}  // namespace cli
