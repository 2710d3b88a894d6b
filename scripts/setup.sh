#!/usr/bin/env bash
# Installs everything inv needs on Debian 12 / Ubuntu, from Debian packages only.
# Idempotent: packages already present are skipped.
#   scripts/setup.sh         build + test + run:  compiler, CMake, zlib, libpng, libjpeg-turbo,
#                            stb, nlohmann/json, Catch2, Fashion-MNIST
#   scripts/setup.sh --dev   also PyTorch, Pillow, scikit-image, Eigen, OpenBLAS and Chromium
#                            (fixture generators, benchmarks against PyTorch, Eigen and
#                            OpenBLAS, report screenshots)
#   scripts/setup.sh --fuzz  also clang, its sanitizer and libFuzzer runtimes, and OpenMP for
#                            clang (scripts/fuzz.sh); the options combine
set -euo pipefail

packages=(g++ make cmake zlib1g-dev libpng-dev libjpeg62-turbo-dev libstb-dev nlohmann-json3-dev catch2 dataset-fashion-mnist)
for option in "$@"; do
  case "$option" in
    --dev) packages+=(python3 python3-numpy python3-pil python3-torch python3-skimage libeigen3-dev libopenblas0-openmp chromium time) ;;
    # libclang-rt-dev: libclang_rt.fuzzer and the ASan/UBSan runtimes of the default clang.
    --fuzz) packages+=(clang libclang-rt-dev libomp-dev) ;;
    *) echo "setup.sh: unknown option '$option' (expected --dev or --fuzz)" >&2; exit 2 ;;
  esac
done

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
