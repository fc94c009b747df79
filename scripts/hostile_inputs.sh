#!/usr/bin/env bash
# Runs the `gan` command on a list of bad inputs, as a hostile new user would try them, and sorts
# each outcome: "clean" is a non-zero exit within the time limit with one "error:" line that names
# the flag or file; anything else (a crash, a hang, exit 0 on nonsense, no message) is "NOT CLEAN".
#   scripts/hostile_inputs.sh [path/to/gan]      (default build/apps/gan)
# Prints one line per input and the counts; exits 1 when any input is not clean.
set -uo pipefail
cd "$(dirname "$0")/.."
GAN="$(realpath "${1:-build/apps/gan}")"
[ -x "$GAN" ] || { echo "no gan binary at $GAN (build first, or pass its path)" >&2; exit 2; }
export GAN_DATA_DIR="$PWD/data" OMP_NUM_THREADS=2
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# Files to feed the readers: empty, random bytes, a FIFO, a folder, truncated and wrong-format
# copies of real files, and a real tiny checkpoint to damage.
: > empty
head -c 4096 /dev/urandom > random
mkfifo fifo
mkdir folder
"$GAN" train --data gaussians8 --toy-width 8 --batch 8 --steps 2 --out toyrun > /dev/null 2>&1
"$GAN" train --data mnist --model mlp --batch 8 --steps 2 --sample-every 0 --out mlprun > /dev/null 2>&1
CK=mlprun/checkpoints/last.safetensors
[ -f "$CK" ] || { echo "could not train the tiny run the damaged inputs start from" >&2; exit 2; }
head -c 5000 "$CK" > truncated.safetensors
head -c 3000 "$GAN_DATA_DIR/mnist-10k/images-idx3-ubyte.gz" > truncated.gz
dict="{'descr': '<f4', 'fortran_order': False, 'shape': (-4, 2), }"
printf '\x93NUMPY\x01\x00\x'"$(printf %02x $((${#dict} + 1)))"'\x00%s\n' "$dict" > negative.npy
mkdir -p idx && printf '\0\0\x08\x04\0\x01\0\0\0\x01\0\0\0\x01\0\0\0\x01\0\0' > idx/train-images-idx3-ubyte

clean=0
bad=0
try() {  # try "description" args...
  local what="$1"
  shift
  rm -rf o tr x.png  # every try starts without the outputs of the one before
  local out code
  out="$(timeout 120 "$GAN" "$@" 2>&1 < /dev/null)"
  code=$?
  local line
  line="$(printf '%s\n' "$out" | grep -m1 'error' || true)"
  if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && [ "$code" -lt 128 ] && [ -n "$line" ]; then
    clean=$((clean + 1))
    printf 'clean      %-52s exit %d  %s\n' "$what" "$code" "${line:0:150}"
  else
    bad=$((bad + 1))
    printf 'NOT CLEAN  %-52s exit %d  %s\n' "$what" "$code" "$(printf '%s' "$out" | tail -1 | cut -c1-150)"
  fi
}

# Integer flags: too large, negative, fractional, hexadecimal, trailing junk.
for v in 99999999999999999999 9223372036854775808 -1 0 2.5 1e3 0x10 7abc ''; do
  for f in --steps --batch --nz --ngf --ndf --n-critic --log-every --n-samples; do
    try "train $f '$v'" train --data mnist --out o "$f" "$v"
  done
done
for v in -1 18446744073709551616 1.5 abc; do
  try "train --seed '$v'" train --data mnist --steps 1 --out o --seed "$v"
  try "sample --seed '$v'" sample --checkpoint "$CK" --out x.png --seed "$v"
done
try "sample --n 99999999999" sample --checkpoint "$CK" --out x.png --n 99999999999
try "train --epochs 99999999999999999" train --data mnist --out o --epochs 99999999999999999
try "train --grad-hist-steps 1,-5" train --data mnist --out o --grad-hist-steps 1,-5
# Number flags: NaN, infinity, out of range.
for v in nan inf -inf 1e400 -1; do
  for f in --lr --ema --grad-clip --label-smoothing --beta1 --gp-lambda; do
    try "train $f '$v'" train --data mnist --steps 1 --out o "$f" "$v"
  done
done
for f in --lr --label-smoothing --clip; do  # 0 is meaningless for these (for --ema, --grad-clip: off)
  try "train $f '0'" train --data mnist --steps 1 --out o "$f" 0
done
try "train --ema 1" train --data mnist --steps 1 --out o --ema 1
try "train --beta1 1" train --data mnist --steps 1 --out o --beta1 1
# Sizes that cannot fit: the model is refused before it is allocated.
try "train --model dcgan32 --ngf 16384" train --data mnist --model dcgan32 --ngf 16384 --steps 1 --out o
try "train --codes cat99999999" train --data mnist --codes cat99999999 --steps 1 --out o
try "train --device cuda:99999999999" train --data mnist --device cuda:99999999999 --steps 1 --out o
# Spellings and combinations.
try "train --model resnet" train --model resnet --out o
try "train --data imagenet" train --data imagenet --out o
try "train --data gaussians8 --model dcgan32" train --data gaussians8 --model dcgan32 --steps 1 --out o
try "train --data mnist --model toy" train --data mnist --model toy --steps 1 --out o
try "train --steps 5 --epochs 2" train --steps 5 --epochs 2 --out o
try "train --loss wgan-gp (batch-norm critic)" train --data mnist --model dcgan32 --loss wgan-gp --steps 1 --out o
try "train --codes cat10 --condition class" train --data mnist --codes cat10 --condition class --steps 1 --out o
try "train --augment spin" train --data mnist --augment spin --steps 1 --out o
try "unknown command" frobnicate
# Data files and folders that are not data.
for spec in mnist:empty mnist:random mnist:fifo mnist:folder mnist:/dev/zero mnist:/dev/null mnist:missing \
            mnist:truncated.gz mnist:idx cifar10:empty cifar10:random cifar10:fifo cifar10:/dev/zero \
            folder:folder folder:empty folder:missing fashion:random; do
  try "train --data $spec" train --data "$spec" --steps 1 --out o
done
# Checkpoints that are not checkpoints, for every command that reads one.
for ck in empty random fifo folder /dev/zero /dev/null missing truncated.safetensors negative.npy mlprun/config.json; do
  try "sample --checkpoint $ck" sample --checkpoint "$ck" --out x.png
  try "eval --checkpoint $ck" eval --checkpoint "$ck" --n 10 --ref mnist --n-ref 100 --metrics fid
  try "trace --checkpoint $ck" trace --checkpoint "$ck" --out tr
done
for f in empty random fifo /dev/zero truncated.safetensors negative.npy; do
  try "eval --samples $f" eval --samples "$f" --ref mnist --n-ref 100 --metrics fid
  try "trace --batch-file $f" trace --model mlp --seed 1 --batch-file "$f" --out tr
  try "trace --noise-file $f" trace --model mlp --seed 1 --noise-file "$f" --out tr
  try "classify --classifier $f" classify --classifier "$f" --checkpoint "$CK"
done
try "train --resume (no run there)" train --resume folder
try "train --resume a toy run with --model" train --resume toyrun --model dcgan32
try "sample --out x.gif" sample --checkpoint "$CK" --out x.gif
try "sample --nz 7 (contradicts the checkpoint)" sample --checkpoint "$CK" --out x.png --model mlp --nz 7
try "train into an existing run folder" train --data mnist --out mlprun --steps 1

echo
echo "$((clean + bad)) bad inputs: $clean clean, $bad not clean"
[ "$bad" -eq 0 ]
