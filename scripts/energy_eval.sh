#!/usr/bin/env bash
# The energy governor's evaluation on the simulated H100: every policy against the device's
# default behaviour on each workload (--max-slowdown 5%), then compute-bound GEMMs at 2%; tables
# on stdout and in build/energy_eval.txt, clock, temperature and power over time in
# build/energy_eval.png. Extra arguments go to hci-govern (--device sim:epyc9654, say).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
build=${HCI_BUILD_DIR:-build}
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target hci-govern -j2 >/dev/null
{
  "$build/tools/hci-govern" --simulate all --trace "$build/energy_eval.csv" "$@"
  "$build/tools/hci-govern" --simulate gemm --max-slowdown 2% "$@"
} | tee "$build/energy_eval.txt"
/usr/bin/python3 tools/hci_govern_plot.py "$build/energy_eval.csv" "$build/energy_eval.png"
