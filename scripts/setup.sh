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
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
