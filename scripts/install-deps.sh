#!/usr/bin/env bash
# Installs every Debian 12 package physynth needs to build, test and benchmark.
# Idempotent: asks apt only for what is missing. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libeigen3-dev libsundials-dev libsuitesparse-dev libceres-dev liblbfgsb-dev
  libtorch-dev libvtk9-dev libopenmpi-dev openmpi-bin
  libyaml-cpp-dev catch2 libhdf5-dev libdeflate-dev zlib1g-dev libcli11-dev
  nlohmann-json3-dev libtbb-dev libboost-dev librandom123-dev
  libssl-dev libsbml5-dev
  python3 python3-numpy python3-scipy python3-h5py
  # The Python module (python/) and its tests: pybind11 for Debian's python3, PyTorch and pandas.
  python3-dev pybind11-dev python3-pybind11 python3-pytest python3-torch python3-pandas
  # The .deb (cpack -G DEB): dpkg-shlibdeps finds its dependencies.
  dpkg-dev file
  xvfb xauth chromium
  clang libclang-rt-14-dev bc
  # OpenBLAS (OpenMP threads, as LibTorch's): CMake's FindBLAS then picks it over ATLAS, which
  # SuiteSparse pulls in; a PINN training step takes 52 ms instead of 93 ms (docs/PERFORMANCE.md).
  libopenblas-openmp-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: missing packages (${missing[*]}) and not root; rerun as root" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
