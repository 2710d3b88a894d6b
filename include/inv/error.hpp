// inv/error.hpp: the one exception type of the library and the checks that throw it.
//
// Every invalid input (bad shape, wrong dtype, corrupt file, out-of-range label,
// non-finite loss) throws inv::Error with a message that names what was expected
// and what was found, e.g. "mse_loss: shapes must match, got (2,3) and (3,2)".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace inv {

/// The exception thrown for every invalid input or state in the library.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// Concatenates the arguments with operator<< into one message.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(cat(args...));
}

}  // namespace detail
}  // namespace inv

/// INV_CHECK(cond, parts...): throws inv::Error(parts...) unless cond holds.
#define INV_CHECK(cond, ...)                   \
  do {                                         \
    if (!(cond)) ::inv::detail::fail(__VA_ARGS__); \
  } while (0)
