#!/usr/bin/env bash
# hci-govern end to end on a fake sysfs tree (a CPU with one cpufreq policy): the clocks a run
# sets are restored when the command ends, when the governor is told to stop (SIGTERM), and by
# --restore from the journal after SIGKILL; dry-run writes nothing; bad arguments are errors; the
# simulated evaluation and its plot are made.
# usage: test_hci_govern.sh HCI_GOVERN PLOT_SCRIPT MOCK_NVML MOCK_ROCM_SMI
set -euo pipefail
govern=$1
plot=$2
mock_nvml=$3
mock_rocm_smi=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
policy=$work/root/sys/devices/system/cpu/cpufreq/policy0
fail() {
  echo "FAILED: $*" >&2
  exit 1
}
make_tree() {
  rm -rf "$work/root"
  mkdir -p "$policy" "$work/root/sys/class/thermal/thermal_zone0" "$work/root/proc"
  echo 1500000 >"$policy/cpuinfo_min_freq"
  echo 3700000 >"$policy/cpuinfo_max_freq"
  echo 1500000 >"$policy/scaling_min_freq"
  echo 3700000 >"$policy/scaling_max_freq"
  echo 2400000 >"$policy/scaling_cur_freq"
  echo "3700000 2400000 1500000" >"$policy/scaling_available_frequencies"
  echo 45000 >"$work/root/sys/class/thermal/thermal_zone0/temp"
  echo "cpu  100 0 100 800 0 0 0 0 0 0" >"$work/root/proc/stat"
}
expect_max() {
  [ "$(cat "$policy/scaling_max_freq")" = "$1" ] || fail "$2: scaling_max_freq is $(cat "$policy/scaling_max_freq"), not $1"
}
cpu=(--device cpu --sysfs-root "$work/root" --journal "$work/journal" --period 20ms)
# What the command sees of the clocks while it runs.
peek=(sh -c "sleep 0.3; cat $policy/scaling_max_freq > $work/seen")

echo "-- a run: the command sees the policy's clocks; they are restored after it"
make_tree
"$govern" "${cpu[@]}" --policy powersave --log "$work/log.csv" -- "${peek[@]}"
[ "$(cat "$work/seen")" = 1500000 ] || fail "powersave: the command saw $(cat "$work/seen")"
expect_max 3700000 "after the run"
[ ! -e "$work/journal" ] || fail "the journal is left after a restored run"
[ "$(wc -l <"$work/log.csv")" -ge 5 ] || fail "the log has too few lines"
grep -q '^time_s,temperature_c,' "$work/log.csv" || fail "the log has no header"
grep -q ',45,' "$work/log.csv" || fail "the log has no temperature of 45 C"

echo "-- the command's exit status is hci-govern's"
set +e
"$govern" "${cpu[@]}" -- sh -c 'exit 3'
status=$?
set -e
[ $status = 3 ] || fail "exit status $status, not 3"

echo "-- dry-run writes nothing"
make_tree
"$govern" "${cpu[@]}" --policy powersave --dry-run -- "${peek[@]}"
[ "$(cat "$work/seen")" = 3700000 ] || fail "dry-run: the command saw $(cat "$work/seen")"
[ ! -e "$work/journal" ] || fail "dry-run wrote a journal"

echo "-- SIGTERM: the command is stopped and the clocks restored"
make_tree
"$govern" "${cpu[@]}" --policy powersave -- sleep 30 &
pid=$!
sleep 0.5
expect_max 1500000 "while governed"
kill -TERM $pid
set +e
wait $pid
status=$?
set -e
[ $status = 143 ] || fail "after SIGTERM the exit status is $status, not 143"
expect_max 3700000 "after SIGTERM"

echo "-- SIGTERM with a command that ignores it: the clocks first, then SIGKILL after 5 s"
make_tree
"$govern" "${cpu[@]}" --policy powersave -- sh -c 'trap "" TERM; exec sleep 32' &
pid=$!
sleep 0.5
kill -TERM $pid
sleep 1
expect_max 3700000 "while the command is given time to end"
set +e
wait $pid
status=$?
set -e
[ $status = 137 ] || fail "the stubborn command's status is $status, not 137"

echo "-- an error in the loop (the journal cannot be written) stops the command"
make_tree
set +e
"$govern" --device cpu --sysfs-root "$work/root" --journal /nonexistent/dir/journal --policy powersave -- sleep 31
status=$?
set -e
[ $status = 2 ] || fail "an unwritable journal gave status $status, not 2"
! pgrep -x -f "sleep 31" >/dev/null || fail "the command outlived hci-govern"
expect_max 3700000 "after an unwritable journal"

echo "-- SIGKILL: the journal lets --restore put the clocks back"
make_tree
"$govern" "${cpu[@]}" --policy powersave -- sleep 30 &
pid=$!
sleep 0.5
child=$(pgrep -P $pid)
kill -KILL $pid
wait $pid || true
kill "$child"
expect_max 1500000 "after SIGKILL"
[ -e "$work/journal" ] || fail "no journal after SIGKILL"
"$govern" --restore --sysfs-root "$work/root" --journal "$work/journal"
expect_max 3700000 "after --restore"
[ ! -e "$work/journal" ] || fail "the journal is left after --restore"

echo "-- a GPU through NVML (the mock): governed, or observed where locking clocks is refused"
HCI_NVML_PATH=$mock_nvml "$govern" --device cuda:1 --policy powersave --journal "$work/journal" -- true >"$work/out" 2>&1 ||
  fail "cuda:1: $(cat "$work/out")"
grep -q "powersave: .* 1 clock write," "$work/out" || fail "cuda:1: $(cat "$work/out")"
HCI_NVML_PATH=$mock_nvml HCI_MOCK_NVML_ROOT=0 "$govern" --device cuda:0 --policy powersave --journal "$work/journal" -- true >"$work/out" 2>&1 ||
  fail "cuda:0 without root: $(cat "$work/out")"
grep -q "observing only: .*Insufficient Permissions" "$work/out" || fail "cuda:0 without root: $(cat "$work/out")"
[ ! -e "$work/journal" ] || fail "a refused lock left a journal"

echo "-- an AMD GPU through ROCm SMI (the mock)"
HCI_ROCM_SMI_PATH=$mock_rocm_smi "$govern" --device rocm:0 --policy powersave --journal "$work/journal" -- true \
  >"$work/out" 2>&1 || fail "rocm:0: $(cat "$work/out")"
grep -q "powersave: .* 1 clock write," "$work/out" || fail "rocm:0: $(cat "$work/out")"

echo "-- bad arguments are errors"
for args in "--policy nope -- true" "--max-slowdown five -- true" "--device cuda:x -- true" "--device rocm: -- true" \
  "--device sim:h100 -- true" "--simulate nope" "--period -1 -- true" "" "--restore --journal $work/none"; do
  set +e
  # shellcheck disable=SC2086
  message=$("$govern" --sysfs-root "$work/root" $args 2>&1 >/dev/null)
  status=$?
  set -e
  [ $status = 2 ] || [ $status = 1 ] || fail "'$args' exited with $status"
  [ -n "$message" ] || fail "'$args' said nothing"
done

echo "-- the simulated evaluation and its plot"
"$govern" --simulate stream --trace "$work/trace.csv" >"$work/table.txt"
grep -q "energy-optimal" "$work/table.txt" || fail "no energy-optimal row"
/usr/bin/python3 "$plot" "$work/trace.csv" "$work/plot.png"
[ "$(head -c 4 "$work/plot.png" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "the plot is not a PNG"
echo "all passed"
