#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU (the H100 of docs/PERFORMANCE.md):
#   configure + build with CUDA, run every test (CUDA included), compute-sanitizer (memcheck) on
#   the CUDA tests, a short `gan train --device cuda` of each model, the benchmarks beside the
#   PyTorch anchor, and a summary table printed last. Logs go to device-out/; when $OUT is set (the
#   lending tool's return folder) they are also packed into $OUT/device-results.tgz.
#
#   scripts/device_check.sh                # everything
#   SECTIONS="build tests" scripts/device_check.sh
#   PREBUILT=DIR scripts/device_check.sh   # use binaries built elsewhere (DIR/tests/gan_tests,
#                                          # DIR/apps/gan, DIR/bench/*) instead of building
#   DEADLINE=SECONDS                       # steps shrink their time limits to end by then
#
# Designed to finish in under 6 minutes on a 16-core H100 machine.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RETURN_DIR=${OUT:-}
OUT=$ROOT/device-out
rm -rf "$OUT" && mkdir -p "$OUT"
SECTIONS=${SECTIONS:-"build tests sanitizer train bench"}
JOBS=$(nproc)
BUILD=${PREBUILT:-$ROOT/build-gpu}
[ -n "${PREBUILT:-}" ] && SECTIONS=${SECTIONS/build/}
DEADLINE=${DEADLINE:-360}
declare -a SUMMARY
# Seconds a step may take: its own cap, or what is left before the deadline (less a reserve).
budget() { local left=$((DEADLINE - SECONDS - ${2:-10})); [ $left -lt $1 ] && echo $((left > 5 ? left : 5)) || echo $1; }

want() { [[ " $SECTIONS " == *" $1 "* ]]; }
record() { SUMMARY+=("$(printf '%-28s %-8s %6ss  %s' "$1" "$2" "$3" "$4")"); }
# run_step NAME CMD...: runs CMD with its output in $OUT/NAME.log and records the outcome.
run_step() {
  local name=$1; shift
  if [ $((DEADLINE - SECONDS)) -lt 15 ]; then record "$name" skipped 0 "deadline reached"; return 1; fi
  local t0=$SECONDS
  if "$@" >"$OUT/$name.log" 2>&1; then local st=ok; else local st="FAIL($?)"; fi
  echo "$name: $st ($((SECONDS - t0)) s)"
  record "$name" "$st" "$((SECONDS - t0))" "$(tail -n 1 "$OUT/$name.log" | cut -c1-70)"
  [ "$st" = ok ]
}

echo "== device: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null)"
echo "== nvcc: $(nvcc --version | tail -1)  cmake: $(cmake --version | head -1)  date: $(date -u +%F)"

# Header-only dependencies that may be missing on the GPU image travel as Debian packages in
# .devdeps/ (scripts/device_deps.sh fetches them); they are unpacked into a private prefix.
need_deps=0
for h in CLI/CLI.hpp nlohmann/json.hpp stb/stb_image_write.h eigen3/Eigen/Dense gtest/gtest.h benchmark/benchmark.h; do
  [ -f /usr/include/$h ] || need_deps=1
done
if [ $need_deps = 1 ] && [ -d .devdeps ]; then
  mkdir -p .devdeps/root
  for f in .devdeps/*.deb; do dpkg -x "$f" .devdeps/root; done
  export CMAKE_PREFIX_PATH=$ROOT/.devdeps/root/usr:${CMAKE_PREFIX_PATH:-}
  export CPATH=$ROOT/.devdeps/root/usr/include:$ROOT/.devdeps/root/usr/include/eigen3:${CPATH:-}
  export LIBRARY_PATH=$ROOT/.devdeps/root/usr/lib/x86_64-linux-gnu:${LIBRARY_PATH:-}
  export LD_LIBRARY_PATH=$ROOT/.devdeps/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
  echo "== unpacked header dependencies from .devdeps"
fi

if [[ "${PREBUILT:-}" == *.tar.xz ]]; then
  rm -rf "$ROOT/.devbin" && mkdir -p "$ROOT/.devbin"
  if command -v xz >/dev/null; then tar -C "$ROOT/.devbin" -xJf "$PREBUILT"
  else python3 -c "import lzma,tarfile,sys; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])" "$PREBUILT" "$ROOT/.devbin"; fi
  PREBUILT=$ROOT/.devbin
  BUILD=$PREBUILT
fi
if [ -n "${PREBUILT:-}" ]; then
  # Recreate the paths the binaries were built with (see scripts/device_pack.sh).
  for f in SOURCE_DIR BUILD_DIR; do
    want_path=$(cat "$PREBUILT/$f" 2>/dev/null || true)
    target=$ROOT; [ $f = BUILD_DIR ] && target=$(cd "$PREBUILT" && pwd)
    if [ -n "$want_path" ] && [ ! -e "$want_path" ]; then mkdir -p "$(dirname "$want_path")"; ln -s "$target" "$want_path"; fi
  done
  export LD_LIBRARY_PATH=$(cd "$PREBUILT" && pwd):${LD_LIBRARY_PATH:-}
  echo "== prebuilt binaries from $PREBUILT (built in $(cat "$PREBUILT/SOURCE_DIR"))"
fi

if want build; then
  run_step configure cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGAN_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 || { printf '%s\n' "${SUMMARY[@]}"; cat "$OUT/configure.log" | tail -30; exit 1; }
  run_step build cmake --build "$BUILD" -j "$JOBS" || { tail -40 "$OUT/build.log"; printf '%s\n' "${SUMMARY[@]}"; exit 1; }
fi

if want tests; then
  # The recorded step (--cuda-graph on), the fused batch norm + activation and bias + activation,
  # the page-locked batches and bfloat16 (--precision bf16) first: their tests are new and short,
  # so their verdict comes back even when a later step runs out of time.
  run_step graph_tests timeout "$(budget 60)" "$BUILD/tests/gan_tests" --gtest_brief=1 \
    --gtest_filter='CudaGraph.*:CudaBatchNormAct.*:CudaBiasAct.*:CudaPinned.*:CudaBf16.*'
  grep -E "^\[  FAILED|Failure|error" "$OUT/graph_tests.log" | head -20
  run_step tests timeout "$(budget 150)" env OMP_NUM_THREADS=8 "$BUILD/tests/gan_tests" --gtest_brief=1 --gtest_output=json:"$OUT/tests.json"
  grep -E "^\[  FAILED|Failure|error" "$OUT/tests.log" | head -40
  python3 - "$OUT/tests.json" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
cases = [c for s in d["testsuites"] for c in s["testsuite"]]
skipped = [c for c in cases if c.get("result") == "SKIPPED"]
failed = [c for c in cases if c.get("failures")]
cuda = [c for c in cases if c["classname"].startswith("Cuda")]
print(f"tests: {len(cases)} total, {len(cases)-len(failed)-len(skipped)} passed, {len(failed)} failed, {len(skipped)} skipped; CUDA tests {len(cuda)}")
for c in failed[:30]: print("  FAILED", c["classname"] + "." + c["name"])
PY
fi

if want train && [ -x "$BUILD/apps/gan" ]; then
  # MODEL STEPS [extra flags]: long enough to see digits form, short enough for the lease.
  for spec in "mlp 3000" "dcgan32 1500" "dcgan64 300" \
              "toy8 10000 --data gaussians8 --loss wgan-gp --seed 1" \
              "toy25 10000 --data gaussians25 --loss wgan-gp --seed 1" \
              "toy25graph 10000 --data gaussians25 --loss wgan-gp --seed 1 --cuda-graph on"; do
    set -- $spec
    name=$1 steps=$2; shift 2
    model=$name; [[ $name == toy* ]] && model=toy
    extra=("$@"); [ ${#extra[@]} -eq 0 ] && extra=(--data mnist)
    run_step "train_$name" timeout "$(budget ${TRAIN_CAP:-75})" "$BUILD/apps/gan" train --model "$model" "${extra[@]}" \
      --steps "$steps" --device cuda --sample-every $((steps / 5)) --checkpoint-every "$steps" --out "$OUT/run_$name"
    tail -n 1 "$OUT/run_$name/metrics.csv" 2>/dev/null
  done
fi

if want bench && [ -f scripts/bench_compare.py ]; then
  run_step bench timeout "$(budget 230 40)" python3 scripts/bench_compare.py --build "$BUILD" --quick \
    --timeout 30 --anchor-timeout 80 ${BENCH_ARGS:-} --out "$OUT/bench"
  tail -n 40 "$OUT/bench.log"
fi

if want sanitizer; then
  # memcheck on every CUDA test (the kernels' out-of-bounds and uninitialised reads), racecheck on
  # the shared-memory tiled convolution kernels (FP32, TF32 and BF16 mma.sync with ldmatrix).
  run_step memcheck timeout "$(budget 120 5)" compute-sanitizer --tool memcheck --error-exitcode 3 --print-limit 20 \
    "$BUILD/tests/gan_tests" --gtest_brief=1 --gtest_filter='Cuda*'
  grep -E "ERROR SUMMARY|Invalid|FAILED" "$OUT/memcheck.log" | head -20
  run_step racecheck timeout "$(budget 60 5)" compute-sanitizer --tool racecheck --error-exitcode 3 --print-limit 20 \
    "$BUILD/tests/gan_tests" --gtest_brief=1 --gtest_filter='CudaConv.DcganLayerShapes*:CudaConv.Tf32Paths*:CudaBf16.Convolutions*:CudaBatchNorm.Training*:CudaBatchNormAct.Matches*'
  grep -E "ERROR SUMMARY|hazard|FAILED" "$OUT/racecheck.log" | head -10
fi

echo
echo "== summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1), $(date -u +%F))"
printf '%-28s %-8s %7s  %s\n' step status time "last line"
printf '%s\n' "${SUMMARY[@]}"
if [ -n "$RETURN_DIR" ]; then
  printf '%s\n' "${SUMMARY[@]}" > "$OUT/summary.txt"
  tar -C "$OUT" --exclude='*.safetensors' -czf "$RETURN_DIR/device-results.tgz" .
fi
