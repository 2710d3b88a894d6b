#!/usr/bin/env bash
# Builds and runs the whole test suite.
#   scripts/test.sh              Release build (-Wall -Wextra -Werror), ctest with 1 and 2 OpenMP threads
#   scripts/test.sh --sanitize   the same under AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
flags=(-DCMAKE_BUILD_TYPE=Release -DINV_WERROR=ON)
if [[ "${1:-}" == "--sanitize" ]]; then
  build=build-sanitize
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DINV_WERROR=ON -DINV_SANITIZE=address,undefined
         -DINV_BUILD_BENCH=OFF)
  # A failed allocation returns null, as without ASan, so that the tests can check the
  # inv::Error the library makes of it (ASan aborts on it by default).
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1"
fi

cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
for threads in 1 2; do
  echo "== ctest with OMP_NUM_THREADS=$threads =="
  OMP_NUM_THREADS=$threads ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
done
