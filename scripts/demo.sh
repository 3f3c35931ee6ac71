#!/usr/bin/env bash
# Builds and runs the quickstart example on the default (CPU) device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHCI_BUILD_EXAMPLES=ON >/dev/null
cmake --build build --target quickstart -j"$(nproc)"
./build/examples/quickstart
