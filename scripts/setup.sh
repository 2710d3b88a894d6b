#!/usr/bin/env bash
# Installs everything inv needs on Debian 12 / Ubuntu, from Debian packages only.
# Idempotent: packages already present are skipped.
#   scripts/setup.sh         build + test + run:  compiler, CMake, Eigen, stb, Catch2, Fashion-MNIST
#   scripts/setup.sh --dev   also PyTorch, scikit-image, OpenBLAS and Chromium (fixture
#                            generators, benchmarks against PyTorch, report screenshots)
set -euo pipefail

packages=(g++ make cmake libeigen3-dev libstb-dev catch2 dataset-fashion-mnist)
if [[ "${1:-}" == "--dev" ]]; then
  packages+=(python3 python3-numpy python3-torch python3-skimage libopenblas0-openmp chromium time)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
