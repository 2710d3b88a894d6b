// tests/fuzz/fuzz_main.cpp: the libFuzzer entry point of one target of targets.hpp, chosen
// when compiling by INV_FUZZ_FUNCTION (e.g. fuzz_idx; tests/fuzz/CMakeLists.txt sets it).
// inv::Error is a rejected input, the expected outcome for malformed bytes; any other
// exception escapes and ends the run (std::terminate), which libFuzzer reports as a crash.
#include "targets.hpp"

#ifndef INV_FUZZ_FUNCTION
#error "define INV_FUZZ_FUNCTION as a function of targets.hpp, e.g. -DINV_FUZZ_FUNCTION=fuzz_idx"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    inv::fuzz::INV_FUZZ_FUNCTION(data, size);
  } catch (const inv::Error&) {
    // rejected: what malformed bytes must give
  }
  return 0;
}
