#!/usr/bin/env bash
# Builds hci and runs every test: the suite at -O2 (lazy, then eager, comparing what each
# read), the Python package's tests, then the suite again under AddressSanitizer and
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
HCI_SETUP_PYTHON=1 bash scripts/setup.sh
jobs=$(nproc)
export HCI_TEST_REQUIRE_JIT=1  # setup.sh installed LLVM: the JIT tests must run, not skip
stage() {
  local name=$1
  shift
  local start=$SECONDS
  echo "== ${name}"
  "$@"
  echo "== ${name}: $((SECONDS - start)) s"
}
stage "configure" cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHCI_BUILD_TESTS=ON -DHCI_BUILD_EXAMPLES=ON \
  -DHCI_BUILD_BENCH=ON
stage "build" cmake --build build -j"$jobs"
stage "test" ctest --test-dir build --output-on-failure --no-tests=error -j"$jobs"
# The Python package as the README installs it, into a virtual environment that sees Debian's
# PyTorch and NumPy, and its tests against them.
stage "python package" bash -c '/usr/bin/python3 -m venv --system-site-packages build/venv &&
  build/venv/bin/pip install -q --no-build-isolation ./python'
stage "python tests" build/venv/bin/python -m pytest -q -rs -p no:cacheprovider tests/python
stage "configure (asan+ubsan)" cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DHCI_BUILD_BENCH=OFF \
  -DHCI_BUILD_EXAMPLES=OFF -DHCI_BUILD_TESTS=ON -DHCI_SANITIZE=ON
stage "build (asan+ubsan)" cmake --build build-sanitize -j"$jobs"
stage "test (asan+ubsan)" ctest --test-dir build-sanitize --output-on-failure --no-tests=error -j"$jobs" -L unit
