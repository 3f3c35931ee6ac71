#!/usr/bin/env bash
# Builds hci-bench, runs the suite on every device present (arguments go to hci-bench: --quick,
# --device cuda:0, --filter ...), and makes the report of this run beside the results checked in
# under docs/bench: build/hci-bench.json and build/hci-bench-report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHCI_BUILD_BENCH=ON >/dev/null
cmake --build build --target hci-bench -j"$(nproc)"
./build/tools/hci-bench --out build/hci-bench.json "$@"
/usr/bin/python3 tools/hci_bench_report.py build/hci-bench.json docs/bench/*.json -o build/hci-bench-report.html \
  --figures build/hci-bench-figures
