#!/usr/bin/env bash
# Fuzzes every reader with libFuzzer (docs/fuzzing.md): builds the harnesses with clang into
# build-fuzz/ (GAN_FUZZ=ON), runs each for SECONDS (default 600) over its committed corpus
# fuzz/corpus/<harness>/ plus a scratch folder that collects new inputs, then merges the inputs
# that add coverage back into the committed corpus (-merge=1, so it stays small). Crashing inputs
# land in build-fuzz/crashes/<harness>/; copy each into fuzz/regressions/<harness>/ once fixed.
#   scripts/fuzz.sh [-t SECONDS] [-j JOBS] [HARNESS...]     (default: all, one after the other)
# Prints a line per harness: CPU seconds, executions, corpus files and bytes, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600 jobs=1
while getopts "t:j:" o; do
  case $o in
    t) seconds=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS] [-j JOBS] [HARNESS...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
all=(safetensors checkpoint config npy idx cifar image cli)
harnesses=("${@:-${all[@]}}")

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1 and no -march: the libraries around the readers build about twice as fast and fuzzing
# speed is set by the instrumented readers anyway.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++}" -DGAN_FUZZ=ON -DGAN_CUDA=OFF \
      -DGAN_BUILD_TESTS=OFF -DGAN_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DGAN_CPU_ARCH=OFF \
      "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${harnesses[@]/#/fuzz_}"

export OMP_NUM_THREADS=1  # the checkpoint harness's tiny model: threads only add noise
printf '%-12s %8s %12s %7s %9s %8s\n' harness cpu_s execs files bytes crashes
for h in "${harnesses[@]}"; do
  bin=build-fuzz/fuzz/fuzz_$h corpus=fuzz/corpus/$h scratch=build-fuzz/scratch/$h crashes=build-fuzz/crashes/$h
  mkdir -p "$scratch" "$crashes"
  log=build-fuzz/fuzz-$h.log
  # -timeout is wall time: on a loaded machine raise it (FUZZ_TIMEOUT) so slow inputs are not
  # reported as hangs.
  args=(-max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$crashes/")
  [ -f fuzz/dict/$h.dict ] && args+=(-dict=fuzz/dict/$h.dict)
  ((jobs > 1)) && args+=(-jobs="$jobs" -workers="$jobs")
  # CPU time of the fuzzer and its children (user + system of the waited-for children of this
  # shell, fields 16-17 of /proc/PID/stat, in clock ticks), before and after.
  before=$(awk '{print $16+$17}' /proc/$$/stat)
  dirs=("$scratch" "$corpus")
  [ -d fuzz/regressions/$h ] && dirs+=(fuzz/regressions/$h)  # libFuzzer stops on a missing folder
  "$bin" "${args[@]}" "${dirs[@]}" >"$log" 2>&1 || true
  after=$(awk '{print $16+$17}' /proc/$$/stat)
  # With -jobs, libFuzzer writes one fuzz-N.log per job in the working folder.
  mkdir -p build-fuzz/logs-$h && mv fuzz-[0-9]*.log build-fuzz/logs-$h/ 2>/dev/null || true
  # Keep only what adds coverage: merge committed + new inputs into a fresh folder, then swap.
  # Edges only (no hit counters, no value profile): a few hundred inputs instead of thousands.
  merged=build-fuzz/merged/$h
  rm -rf "$merged" && mkdir -p "$merged"
  "$bin" -merge=1 -use_counters=0 -use_value_profile=0 -timeout=10 -rss_limit_mb=2048 "$merged" "$corpus" "$scratch" \
    >"$log.merge" 2>&1 || true
  if [ -n "$(ls -A "$merged")" ]; then
    find "$corpus" -type f ! -name 'seed-*' -delete  # the seeds stay: they document the format
    # libFuzzer names inputs by their SHA-1: drop the copies of the seeds.
    for s in "$corpus"/seed-*; do rm -f "$merged/$(sha1sum "$s" | cut -d' ' -f1)"; done
    cp -n "$merged"/* "$corpus"/ 2>/dev/null || true
  fi
  # (No per-job logs without -jobs: cat's failure must not end the script under pipefail.)
  execs=$( (cat "$log" build-fuzz/logs-$h/*.log 2>/dev/null || true) | grep -h 'stat::number_of_executed_units' |
          awk '{s+=$2} END {print s+0}')
  files=$(find "$corpus" -type f | wc -l) bytes=$(du -cb "$corpus" | tail -1 | cut -f1)
  found=$(find "$crashes" -type f | wc -l)
  printf '%-12s %8.0f %12s %7s %9s %8s\n' "$h" "$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN {print t / hz}')" \
         "$execs" "$files" "$bytes" "$found"
done
