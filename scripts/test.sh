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
# The Python package as the README installs it (pip install ./python, here in its two steps: the
# wheel is installed twice), into a virtual environment that sees Debian's PyTorch and NumPy, and
# its tests against them, with the mock CUDA driver for the GPU side of DLPack.
stage "python package" bash -c 'rm -rf build/wheel && /usr/bin/python3 -m venv --system-site-packages build/venv &&
  build/venv/bin/pip wheel -q --no-build-isolation --no-deps -w build/wheel ./python &&
  build/venv/bin/pip install -q --force-reinstall --no-deps build/wheel/hci-*.whl'
stage "python tests" env HCI_CUDA_PATH="$PWD/build/tests/libhci_mock_cuda.so" \
  build/venv/bin/python -m pytest -q -rs -p no:cacheprovider tests/python
# DLPack 1.x against a real consumer and producer: NumPy 2 from PyPI, in a second environment
# (Debian's PyTorch is built against NumPy 1).
stage "python tests (NumPy 2)" bash -c '/usr/bin/python3 -m venv --system-site-packages build/venv-numpy2 &&
  build/venv-numpy2/bin/pip install -q --no-warn-conflicts "numpy>=2.1,<3" build/wheel/hci-*.whl &&
  build/venv-numpy2/bin/python -m pytest -q -rs -p no:cacheprovider tests/python/test_dlpack_numpy2.py'
stage "configure (asan+ubsan)" cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DHCI_BUILD_BENCH=OFF \
  -DHCI_BUILD_EXAMPLES=OFF -DHCI_BUILD_TESTS=ON -DHCI_SANITIZE=ON
stage "build (asan+ubsan)" cmake --build build-sanitize -j"$jobs"
stage "test (asan+ubsan)" ctest --test-dir build-sanitize --output-on-failure --no-tests=error -j"$jobs" -L unit
