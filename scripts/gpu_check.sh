#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in two halves, for a GPU machine that has neither this
# build setup nor LLVM:
#   scripts/gpu_check.sh prepare [KIT]  on the build machine: builds the GPU test, benchmarks and
#                                       hci-bench, fills KIT/cache with the test's kernels' PTX
#                                       (for $HCI_GPU_TARGET, default sm_90) and copies the
#                                       binaries, the libraries they need and libLLVM with its
#                                       own (compressed: what the cache lacks compiles there) into KIT
#                                       (default build-gpu-kit)
#   scripts/gpu_check.sh run [KIT]      on the GPU machine: runs hci-bench on the GPU and its
#                                       host, reads the GPU's telemetry through NVML beside
#                                       nvidia-smi (observing only: the clocks stay as they
#                                       are), runs the kernels against the interpreter, then the
#                                       GPU benchmarks, and prints a summary; results go to $OUT
#                                       (or KIT) as well
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/gpu_check.sh prepare|run [KIT]}
kit=$(realpath -m "${2:-build-gpu-kit}")

if [ "$mode" = prepare ]; then
  # The references for any processor with AVX-512 (the GPU machines' Xeons), not this one alone.
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DHCI_BENCH_ARCH=x86-64-v4 > /dev/null
  cmake --build build -j2 --target test_cuda_kernels bench_cuda hci-govern hci-bench
  rm -rf "$kit"
  mkdir -p "$kit/bin" "$kit/lib" "$kit/cache"
  chmod 700 "$kit/cache"
  HCI_TEST_GPU_PREPARE="${HCI_GPU_TARGET:-sm_90}" HCI_CACHE_DIR="$kit/cache" build/tests/test_cuda_kernels
  rm -f "$kit"/cache/cpu-*  # host code is for this machine's processor
  cp build/tests/test_cuda_kernels build/bench/bench_cuda build/tools/hci-govern build/tools/hci-bench "$kit/bin/"
  # Libraries outside the C and C++ runtimes that the GPU machine may lack.
  ldd build/bench/bench_cuda build/tests/test_cuda_kernels build/tools/hci-bench | awk '/=> \// {print $3}' |
    grep -v -E '/lib(c|m|stdc\+\+|gcc_s|pthread|dl|rt)\.so' | sort -u | xargs -r cp -L -t "$kit/lib"
  # The JIT's LLVM and what it links, for the kernels hci-bench makes there.
  llvm=$(ldconfig -p | awk '/libLLVM.so.19/ {print $NF; exit}')
  { echo "$llvm"; ldd "$llvm" | awk '/=> \// {print $3}' | grep -v -E '/lib(c|m|stdc\+\+|gcc_s|pthread|dl|rt)\.so'; } |
    tar -cJf "$kit/llvm.tar.xz" --dereference --transform='s|.*/||' -T -
  cmake -S . -B build -DHCI_BENCH_ARCH=native > /dev/null  # this machine's own again
  echo "prepared $kit: $(ls "$kit/cache" | wc -l) kernels, $(du -sh "$kit" | cut -f1)"
  exit 0
fi

[ "$mode" = run ] || { echo "unknown mode '$mode'" >&2; exit 2; }
out=${OUT:-$kit}
# The cache holds code hci runs, so hci uses it only if it is this user's alone: a copy made here is.
cache=$(mktemp -d)
cp -r "$kit/cache/." "$cache/"
export HCI_CACHE_DIR="$cache" LD_LIBRARY_PATH="$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv || true
status=0
llvm=$(mktemp -d)
tar -xJf "$kit/llvm.tar.xz" -C "$llvm"
# After the system's own libraries: the kit's copies are for what the machine lacks.
HCI_LLVM_PATH=$(ls "$llvm"/libLLVM.so*)
export HCI_LLVM_PATH LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$llvm"
# hci-bench, the GPU and its host each in a run of its own, so that one running out of time keeps the other.
for device in cuda:0 cpu; do
  timeout 250 "$kit/bin/hci-bench" --device $device --max-time $([ $device = cpu ] && echo 120 || echo 200) \
    --out "$out/hci-bench-${device%:*}.json" 2>&1 | tee "$out/hci-bench-${device%:*}.log" || status=1
done
# NVML through hci beside nvidia-smi over the same seconds of a bfloat16 matrix product running
# (dry-run: no clock is written).
nvidia-smi --query-gpu=temperature.gpu,power.draw,clocks.sm,clocks.mem,utilization.gpu \
  --format=csv,noheader,nounits -i 0 -lms 200 >"$out/nvidia_smi.csv" &
smi=$!
timeout 60 "$kit/bin/hci-govern" --device cuda:0 --dry-run --policy performance --period 200ms \
  --log "$out/nvml.csv" --journal "$out/journal" -- "$kit/bin/hci-bench" --device cuda:0 --min-time 4 \
  --filter 'cuda:0/matmul/bfloat16/8192/cublas' --out "$llvm/matmul.json" || status=1
kill $smi || true
python3 - "$out/nvml.csv" "$out/nvidia_smi.csv" <<'PY' || status=1
import csv, statistics, sys
hci = list(csv.DictReader(open(sys.argv[1])))
smi = [[float(v) for v in row] for row in csv.reader(open(sys.argv[2])) if len(row) == 5]
columns = [("temperature C", "temperature_c", 0), ("power W", "power_w", 1), ("SM clock MHz", "core_mhz", 2),
           ("memory clock MHz", "memory_mhz", 3), ("utilization %", "utilization", 4)]
print(f"NVML through hci against nvidia-smi, means of {len(hci)} and {len(smi)} readings:")
for label, ours, theirs in columns:
    mine = statistics.mean(float(r[ours]) * (100 if ours == "utilization" else 1) for r in hci)
    other = statistics.mean(r[theirs] for r in smi)
    print(f"  {label:18} hci {mine:9.1f}   nvidia-smi {other:9.1f}")
PY
HCI_TEST_REQUIRE_GPU=1 timeout 100 "$kit/bin/test_cuda_kernels" 2>&1 | tee "$out/test_cuda_kernels.log" || status=1
timeout 100 "$kit/bin/bench_cuda" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/bench_cuda.json" --benchmark_out_format=json 2>&1 | tee "$out/bench_cuda.log" || status=1
python3 - "$out/bench_cuda.json" <<'PY' || status=1
import json, sys
runs = {b["run_name"].replace("/manual_time", ""): b for b in json.load(open(sys.argv[1]))["benchmarks"]
        if b.get("aggregate_name") == "median"}
copy = runs["BM_cuda_copy_reference"]["bytes_per_second"]
print(f"device-to-device copy: {copy / 1e12:.2f} TB/s (bytes read + written)")
for name, b in runs.items():
    if name != "BM_cuda_copy_reference" and "matmul" not in name:
        print(f"{name}: {b['bytes_per_second'] / 1e12:.2f} TB/s, {b['bytes_per_second'] / copy:.2f} of the copy, "
              f"{b['real_time']:.3f} ms, {int(b.get('blocks', 0))} blocks")
for arg, dtype in (("0", "float32"), ("1", "bfloat16")):
    hci_run, direct = runs.get(f"BM_cuda_matmul_hci/{arg}"), runs.get(f"BM_cuda_matmul_cublas/{arg}")
    if hci_run and direct and "items_per_second" in hci_run and "items_per_second" in direct:
        print(f"matmul {dtype} 8192x8192: hci {hci_run['items_per_second'] / 1e12:.1f} TFLOP/s, cuBLAS directly "
              f"{direct['items_per_second'] / 1e12:.1f} TFLOP/s: {hci_run['items_per_second'] / direct['items_per_second']:.3f}")
    tiled = runs.get(f"BM_cuda_matmul_tiled/{arg}")
    if tiled and direct and "items_per_second" in tiled and "items_per_second" in direct:
        print(f"matmul {dtype} 8192x8192 as the JIT's tiled kernel (no cuBLAS): "
              f"{tiled['items_per_second'] / 1e12:.1f} TFLOP/s, {tiled['items_per_second'] / direct['items_per_second']:.2f} of cuBLAS")
PY
exit $status
