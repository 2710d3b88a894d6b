// json.hpp: a small JSON writer (RFC 8259) for results.json and metrics.json.
//
//   JsonWriter j;
//   j.begin_object().key("psnr").value(23.5).key("ssim").value(0.81).end_object();
//   io::write_file_atomic(path, j.str());
//
// Strings are escaped (quote, backslash, control characters as \uXXXX; UTF-8 passes
// through). Numbers are written with 15 significant digits, or up to 17 where needed to
// read back the same double; non-finite numbers (e.g. the PSNR of an exact reconstruction, +inf) have no JSON
// form and are written as null.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace cli {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  /// The key of the next member of the current object.
  JsonWriter& key(const std::string& k) {
    separate();
    out_ += quote(k) + ": ";
    after_key_ = true;
    return *this;
  }
  JsonWriter& value(const std::string& s) { return raw(quote(s)); }
  JsonWriter& value(const char* s) { return raw(quote(s)); }
  JsonWriter& value(bool b) { return raw(b ? "true" : "false"); }
  JsonWriter& value(int64_t v) { return raw(std::to_string(v)); }
  JsonWriter& value(int v) { return raw(std::to_string(v)); }
  JsonWriter& value(double v) {
    if (!std::isfinite(v)) return null();
    char buf[40];
    for (int digits = 15; digits <= 17; ++digits) {  // the shortest of these that reads back as v
      std::snprintf(buf, sizeof buf, "%.*g", digits, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
    return raw(buf);
  }
  JsonWriter& null() { return raw("null"); }
  /// An array of numbers on one line.
  JsonWriter& values(const std::vector<double>& v) {
    begin_array();
    inline_ = true;
    for (double x : v) value(x);
    inline_ = false;
    return end_array_inline();
  }

  const std::string& str() const { return out_; }

  static std::string quote(const std::string& s) {
    std::string q = "\"";
    for (unsigned char c : s) {
      switch (c) {
        case '"': q += "\\\""; break;
        case '\\': q += "\\\\"; break;
        case '\n': q += "\\n"; break;
        case '\r': q += "\\r"; break;
        case '\t': q += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            q += buf;
          } else {
            q += char(c);
          }
      }
    }
    return q + "\"";
  }

 private:
  JsonWriter& open(char c) {
    separate();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  JsonWriter& close(char c) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) newline();
    out_ += c;
    if (first_.empty()) out_ += "\n";
    return *this;
  }
  JsonWriter& end_array_inline() {
    first_.pop_back();
    out_ += ']';
    return *this;
  }
  JsonWriter& raw(const std::string& text) {
    separate();
    out_ += text;
    return *this;
  }
  /// Before a value or key: a comma after a previous element, and a new line.
  void separate() {
    if (after_key_) {  // the value of a key follows it directly
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += inline_ ? ", " : ",";
    first_.back() = false;
    if (!inline_) newline();
  }
  void newline() { out_ += "\n" + std::string(2 * first_.size(), ' '); }

  std::string out_;
  std::vector<bool> first_;  // per open container: no element yet
  bool after_key_ = false, inline_ = false;
};

}  // namespace cli
