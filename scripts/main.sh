#!/usr/bin/env bash
# The main job: builds the `inv` command (Release) and runs the leakage sweep of LeNet on
# Fashion-MNIST: every split layer x the three attacks (white-box, black-box, query-free)
# with the quick preset. Prints the table and the path of the report,
# out/fashion-mnist-lenet-quick/index.html. A rerun reuses the finished work.
#   scripts/main.sh                      the quick sweep
#   scripts/main.sh --preset paper       the papers' protocol (hours)
# Any arguments are passed on to `inv sweep` (see build/tools/inv sweep --help).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${INV_BUILD_DIR:-build}  # the build directory (INV_BUILD_DIR overrides it)

start=$SECONDS
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target inv_cli
echo "main: built $build/tools/inv in $((SECONDS - start)) s"

start=$SECONDS
"$build/tools/inv" sweep --dataset fashion-mnist --model lenet "$@"
echo "main: the sweep took $((SECONDS - start)) s"
