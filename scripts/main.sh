#!/usr/bin/env bash
# The main job: builds the `inv` command (Release) and runs the leakage sweep of LeNet on
# Fashion-MNIST: every split layer x the three attacks (white-box, black-box, query-free)
# and the label-only baseline, with the quick preset; then a small defense grid (inv defend)
# and its recommendation. Prints the tables and the path of the report,
# out/fashion-mnist-lenet-quick/index.html (its Leakage and Defenses sections).
# A rerun reuses the finished work.
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

# What to do about it: a small defense grid on the sweep's target, into the sweep's report,
# and the recommendation. `inv defend --help` runs larger grids. It gets the same arguments
# as the sweep (so the same target and directory), except the sweep's --splits and --attacks.
defend_args=()
skip=0
for arg in "$@"; do
  if ((skip)); then skip=0; continue; fi
  case "$arg" in
    --splits | --attacks) skip=1 ;;
    --splits=* | --attacks=*) ;;
    *) defend_args+=("$arg") ;;
  esac
done
start=$SECONDS
"$build/tools/inv" defend --dataset fashion-mnist --model lenet --splits ReLU2,pool2,fc1 \
  --defenses dropout,gaussian --dropout-rates 0.3,0.6,0.9 --noise-levels 0.5,1,2 "${defend_args[@]}"
echo "main: the defense grid took $((SECONDS - start)) s"
