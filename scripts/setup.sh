#!/usr/bin/env bash
# Installs what building and testing hci needs (Debian packages), skipping what is present.
set -euo pipefail
# OpenBLAS, the reference BLAS and LLVM are found at run time (never linked): by the matmul tests
# and by the JIT. ld.lld-19 links the AMD GPU objects the JIT's tests make into code objects.
# Debian's HIP runtime is there to be found without an AMD GPU: the ROCm backend must then say why
# it is unavailable. Matplotlib (for /usr/bin/python3) draws the energy governor's evaluation and
# hci-bench's report, which checks its input with jsonschema; Eigen is one of hci-bench's references.
packages=(cmake g++ make libfmt-dev catch2 libbenchmark-dev libopenblas0-pthread libblas3 libllvm19 lld-19
  libamdhip64-5 python3-matplotlib python3-jsonschema libeigen3-dev)
[ "${HCI_SETUP_LINT:-0}" = 1 ] && packages+=(clang-format-19 clang-tidy-19)
updated=0
# Installs those of the packages named that are missing; the first argument is apt's options.
install() {
  local options=$1
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  [ $updated = 1 ] || $sudo apt-get update -qq
  updated=1
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $options "${missing[@]}" >/dev/null
}
install "" "${packages[@]}"
# The Python package's build (pip, setuptools, pybind11) and its tests against PyTorch and NumPy,
# for /usr/bin/python3: scripts/test.sh asks for them with HCI_SETUP_PYTHON=1.
if [ "${HCI_SETUP_PYTHON:-0}" = 1 ]; then
  install --no-install-recommends python3-dev python3-venv python3-pip python3-setuptools python3-wheel \
    python3-pybind11 pybind11-dev python3-pytest python3-numpy python3-torch
fi
