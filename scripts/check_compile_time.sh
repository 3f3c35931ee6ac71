#!/usr/bin/env bash
# Fails when examples/quickstart.cpp takes more than the budget (seconds) to compile at -O2, as
# a user's translation unit built against the hci::hci target. The runtime it shares is compiled
# once per target and is timed too, for information. Best of three, to ride out noise.
set -euo pipefail
cd "$(dirname "$0")/.."
budget_ms=$(( ${1:-6} * 1000 ))
flags=(-std=c++20 -O2 -DFMT_HEADER_ONLY -DHCI_SEPARATE_RUNTIME -Iinclude -Ibackends/cpu/include -Ibackends/cuda/include -Ibackends/rocm/include -Ijit/include)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ms() { echo $(( $(date +%s%N) / 1000000 )); }
best=""
for _ in 1 2 3; do
  start=$(ms)
  g++ "${flags[@]}" -c examples/quickstart.cpp -o "$out/q.o"
  t=$(( $(ms) - start ))
  if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
done
start=$(ms)
g++ "${flags[@]}" -c src/runtime.cpp -o "$out/r.o"
runtime=$(( $(ms) - start ))
echo "quickstart.cpp at -O2: ${best} ms (budget ${budget_ms} ms); the runtime, compiled once per target: ${runtime} ms"
if [ "$best" -gt "$budget_ms" ]; then
  echo "quickstart.cpp takes longer than its budget to compile"
  exit 1
fi
