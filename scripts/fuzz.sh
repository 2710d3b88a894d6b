#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) in build-fuzz and
# fuzzes each one, two at a time.
#   scripts/fuzz.sh                          every target for 600 s
#   scripts/fuzz.sh --seconds 60 --targets idx,npy
# Each target starts from its corpus in build-fuzz/corpus/<target>, a copy of the seeds
# (tests/fuzz/corpus/<target>, never written to) that grows from run to run. Findings
# (crash-, leak-, timeout-, oom- files) go to build-fuzz/artifacts/<target>/, logs to
# build-fuzz/logs/<target>.log. Prints one line per target (executions, exec/s, coverage,
# features, findings of this run), also written to build-fuzz/summary.txt, and exits 1 when
# a target had a finding or did not finish. Reproduce a finding with
#   build-fuzz/tests/fuzz/fuzz_<target> <file>
# and keep it as a regression test: tests/fuzz/regressions/<target>/ (see tests/fuzz/README.md).
# Needs clang, its runtime libraries and OpenMP: scripts/setup.sh --fuzz installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
wanted=""
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }
while (($#)); do
  case "$1" in
    --seconds) seconds="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    --targets) wanted="${2:-}"; shift 2 || { usage >&2; exit 2; } ;;
    -h | --help) usage; exit 0 ;;
    *) echo "fuzz.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds needs a positive integer, got '$seconds'" >&2; exit 2; }

# The targets and their -max_len: the X(name, max_len) lines of tests/fuzz/targets.hpp.
declare -A max_len=()
all=()
while read -r name len; do
  all+=("$name")
  max_len[$name]=$len
done < <(sed -nE 's/^ *X\(([a-z0-9_]+), *([0-9]+)\).*/\1 \2/p' tests/fuzz/targets.hpp)
targets=("${all[@]}")
if [[ -n "$wanted" ]]; then
  IFS=, read -r -a targets <<< "$wanted"
  for t in "${targets[@]}"; do
    [[ -n "${max_len[$t]:-}" ]] || { echo "fuzz.sh: unknown target '$t' (targets: ${all[*]})" >&2; exit 2; }
  done
fi

build=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DINV_FUZZ=ON -DINV_BUILD_BENCH=OFF \
  -DINV_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

# Fuzzes target $1 for $seconds seconds; its findings are the artifacts newer than logs/$1.start.
fuzz_one() {
  local t=$1
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t" "$build/logs"
  cp -p tests/fuzz/corpus/"$t"/* "$build/corpus/$t/"
  touch "$build/logs/$t.start"
  # One OpenMP thread: two fuzzers share the two cores.
  OMP_NUM_THREADS=1 "$build/tests/fuzz/fuzz_$t" "$build/corpus/$t" -max_len="${max_len[$t]}" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=60 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t/" >"$build/logs/$t.log" 2>&1 || true
}

echo "== fuzzing ${targets[*]} for $seconds s each, two at a time =="
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= 2)); do wait -n || true; done
  fuzz_one "$t" &
done
wait

# One line per target from libFuzzer's last status line ("#N DONE cov: C ft: F ... exec/s: E").
failed=0
summary="$build/summary.txt"
{
  printf '%-12s %12s %8s %7s %7s  %s\n' target executions exec/s cov ft findings
  for t in "${targets[@]}"; do
    log="$build/logs/$t.log"
    status=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    runs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<< "$status")
    speed=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<< "$status")
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$status")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$status")
    findings=$(find "$build/artifacts/$t" -maxdepth 1 -type f -newer "$build/logs/$t.start" \
      \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
    count=$(grep -c . <<< "$findings" || true)
    note="$count"
    if ((count > 0)); then
      note="$count: $(tr '\n' ' ' <<< "$findings")(log: $log)"
      failed=1
    elif ! grep -qE '^#[0-9]+[[:space:]]+DONE' "$log"; then
      note="0, but the run did not finish (log: $log)"
      failed=1
    fi
    printf '%-12s %12s %8s %7s %7s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$note"
  done
} >"$summary"
cat "$summary"
exit "$failed"
