#!/usr/bin/env bash
# The main job: builds the project and runs it on the default data.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target autograd_intro
build/examples/autograd_intro
