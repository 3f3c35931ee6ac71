#!/usr/bin/env bash
# hci-bench end to end: a quick run on the CPU writes JSON that passes the schema, with every
# memory-bound and matrix case beside its reference; the same on the mock CUDA driver and cuBLAS
# (whose refused kernel launches must come out as skipped cases with the driver's message, never a
# crash); --max-time and bad arguments; a malformed file fails the schema; the report builds from
# the checked-in results (docs/bench) and this run, with its plots as PNG.
# usage: test_hci_bench.sh HCI_BENCH REPORT_SCRIPT MOCK_CUDA MOCK_CUBLAS SOURCE_DIR
set -euo pipefail
bench=$1
report=$2
mock_cuda=$3
mock_cublas=$4
source=$5
python=/usr/bin/python3  # Debian's, with matplotlib and jsonschema
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAILED: $*" >&2
  exit 1
}

echo "-- a quick run on the CPU"
"$bench" --quick --device cpu --out "$work/cpu.json" | tee "$work/cpu.log"
$python "$report" --check "$work/cpu.json"
[ "$(grep -c '^\[' "$work/cpu.log")" = "$("$bench" --quick --device cpu --list | wc -l)" ] ||
  fail "the progress lines do not count the cases listed"
$python - "$work/cpu.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
runs = {"/".join(b["name"].split("/")[:5]): b for b in data["benchmarks"]}
errors = [f"{n}: {b['error_message']}" for n, b in runs.items() if b.get("error_occurred") and "BLAS" not in b["error_message"]]
assert not errors, errors
for name, b in runs.items():
    if not b.get("error_occurred"):
        assert b["real_time"] > 0 and b["iterations"] > 0, name
    device, family, case, size, impl = name.split("/")
    # bfloat16 products have no reference on the CPU: Eigen's runs scalar code, and no BLAS has them.
    if impl == "hci" and family in ("elementwise", "reduction", "rows", "matmul") and case != "bfloat16":
        references = [n for n in runs if n.startswith(f"{device}/{family}/{case}/{size}/") and "/hci" not in n]
        assert references, f"{name} has no reference in the run"
    if family in ("elementwise", "reduction", "rows"):
        assert b.get("bytes_per_second", 0) > 0 or b.get("error_occurred"), name
    if family == "matmul":
        assert b.get("items_per_second", 0) > 0 or b.get("error_occurred"), name
machine = data["machine"]
assert machine["quick"] is True and machine["cpu"]["threads"] >= 1
assert machine["devices"][0]["device"] == "cpu" and machine["devices"][0]["bandwidth_bytes_per_second"] > 1e8
print(f"{len(runs)} cases, each memory-bound and matrix case beside its reference")
PY

echo "-- a quick run on the mock CUDA driver"
HCI_CUDA_PATH=$mock_cuda HCI_CUBLAS_PATH=$mock_cublas HCI_NVML_PATH=/nonexistent/libnvidia-ml.so.1 \
  "$bench" --quick --device cuda:0 --out "$work/cuda.json" >"$work/cuda.log"
$python "$report" --check "$work/cuda.json"
$python - "$work/cuda.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
runs = {"/".join(b["name"].split("/")[:5]): b for b in data["benchmarks"]}
assert all(n.startswith("cuda:0/") for n in runs), "cases of other devices ran"
for name in ("cuda:0/matmul/float32/64/cublas", "cuda:0/matmul/float32/64/hci", "cuda:0/transfer/to_device/1048576/hci",
             "cuda:0/transfer/to_host_pinned/1048576/driver"):
    assert not runs[name].get("error_occurred"), (name, runs[name].get("error_message"))
# The mock refuses kernel launches: the JIT's cases are skipped with the driver's message.
chain = runs["cuda:0/elementwise/chain1/65536/hci"]
assert chain.get("error_occurred") and "cuLaunchKernel" in chain["error_message"], chain
device = data["machine"]["devices"][0]
assert device["device"] == "cuda:0" and "mock GPU" in device["name"] and device["bandwidth_bytes_per_second"] > 0
assert device["energy"].startswith("unavailable"), device["energy"]
print("cuda:0: cuBLAS and transfers measured, refused launches reported as skipped")
PY

echo "-- --max-time: the cases after the budget are reported as not run"
"$bench" --quick --device cpu --max-time 0.001 --out "$work/cut.json" >/dev/null
$python "$report" --check "$work/cut.json"
grep -q "the --max-time budget was used up" "$work/cut.json" || fail "--max-time left every case to run"

echo "-- bad arguments are errors"
for arguments in "--bogus" "--device tpu:0" "--device cpu --filter nothing-matches" "--min-time -1" "--filter (" \
  "--out"; do
  # shellcheck disable=SC2086
  if "$bench" $arguments >"$work/out" 2>&1; then fail "hci-bench $arguments succeeded"; fi
  grep -q "^hci-bench: " "$work/out" || fail "hci-bench $arguments said: $(cat "$work/out")"
done
HCI_CUDA_PATH=/nonexistent/libcuda.so.1 "$bench" --device cuda:0 >"$work/out" 2>&1 && fail "a missing GPU ran"
grep -q "cuda" "$work/out" || fail "a missing GPU: $(cat "$work/out")"

echo "-- the schema refuses malformed results"
if $python "$report" --check "$source/tests/fixtures/hci_bench_malformed.json" >"$work/out" 2>&1; then
  fail "the malformed sample passed the schema"
fi
grep -q "cores" "$work/out" && grep -q "real_time" "$work/out" || fail "the schema's complaint: $(cat "$work/out")"
$python - "$work/cpu.json" "$work/broken.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
del data["machine"]["devices"][0]["bandwidth_bytes_per_second"]
data["benchmarks"][0]["iterations"] = "many"
json.dump(data, open(sys.argv[2], "w"))
PY
if $python "$report" --check "$work/broken.json" >"$work/out" 2>&1; then fail "a result without its roofline passed"; fi
grep -q "bandwidth_bytes_per_second" "$work/out" && grep -q "iterations" "$work/out" || fail "$(cat "$work/out")"

echo "-- the report, from the checked-in results and this run"
$python "$report" "$source"/docs/bench/*.json "$work/cpu.json" -o "$work/report.html" --figures "$work/figures"
[ "$(grep -o 'src=.data:image/png;base64,' "$work/report.html" | wc -l)" = 5 ] || fail "the report does not hold 5 plots"
for png in bandwidth matmul fusion compile side_by_side; do
  [ "$(head -c 8 "$work/figures/hci_bench_$png.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] ||
    fail "hci_bench_$png.png is not a PNG"
done
grep -q "NVIDIA H200" "$work/report.html" || fail "the report lost the GPU's results"
echo "hci-bench: all checks passed"
