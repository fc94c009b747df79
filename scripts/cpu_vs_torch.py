#!/usr/bin/env python3
"""The engine's CPU training steps beside PyTorch's, on this machine, in one run.

For every round, thread count and workload it runs the engine's whole-step benchmark
(bench_train_step, the trainer's own step on a fixed batch) and the same workload in PyTorch
(the CPU section of bench/torch_anchor.py: same models, same optimizers, same batch), one after
the other, alternating which goes first, and prints the ratio engine / PyTorch per workload and
thread count. Only ratios measured this way, side by side, count: a shared machine's speed drifts
by more than the differences measured here.

Workloads (bench/torch_anchor.py names):
  mlp_mnist       MLP GAN, batch 64
  dcgan32_mnist   DCGAN-32 on 1-channel 32x32 images, ngf = ndf = 64, batch 64
  dcgan32_readme  the README's main model: the same with ngf = ndf = 16

PyTorch lives in a private virtual environment, installed only when asked (about 1 GB of CPU
wheels; never by CI or by the README's commands):
  python3 scripts/cpu_vs_torch.py --install-torch            # once: creates .venv-torch/
  python3 scripts/cpu_vs_torch.py [--threads 1,2] [--rounds 3] [--models mlp_mnist,...]
  python3 scripts/cpu_vs_torch.py --before OLD_BUILD ...   # also an older build, for before/after
Needs the engine's benchmarks built (./scripts/test.sh builds them, or
`cmake --build build --target bench_train_step`). Writes OUT/report.md and OUT/summary.json
(default OUT: runs/cpu-vs-torch-<date>). Standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["mlp_mnist", "dcgan32_mnist", "dcgan32_readme"]
TARGET = 0.7  # issue 17: engine <= 0.7x PyTorch's step; at the very least < 1.0x


def log(msg):
    print(msg, flush=True)


def fail(msg):
    print(f"cpu_vs_torch: {msg}", file=sys.stderr)
    sys.exit(2)


def venv_python(venv):
    return os.path.join(venv, "bin", "python")


def install_torch(venv):
    if not os.path.exists(venv_python(venv)):
        log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    log("installing torch (CPU wheels) into " + venv)
    subprocess.run([venv_python(venv), "-m", "pip", "install", "--upgrade", "pip"], check=True)
    # PyTorch's own CPU index has the small wheels; where it cannot be reached, PyPI's default wheel
    # (CUDA libraries included, several GB) runs the same CPU kernels.
    pip = [venv_python(venv), "-m", "pip", "install", "torch"]
    if subprocess.run(pip + ["--index-url", "https://download.pytorch.org/whl/cpu"]).returncode != 0:
        log("the CPU index (download.pytorch.org) failed; installing PyPI's default torch wheel instead")
        subprocess.run(pip, check=True)


def torch_version(python):
    try:
        out = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                             text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def thread_env(threads):
    # Everything else (OMP_WAIT_POLICY included: on a shared machine `passive` keeps a waiting thread
    # from spinning on the core its partner needs) is inherited, the same for both sides.
    return dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


def run_engine(binary, model, threads, timeout):
    """Median ms of the case, or None when this binary has no such case (an older tree's)."""
    case = f"train_step/{model}/b64/cpu"
    listed = subprocess.run([binary, "--no_gpu", "--benchmark_list_tests", f"--benchmark_filter=^{case}(/|$)"],
                            capture_output=True, text=True, env=thread_env(threads), timeout=120)
    if not listed.stdout.strip():
        return None
    cmd = [binary, "--no_gpu", f"--benchmark_filter=^{case}(/|$)", "--benchmark_format=json"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=thread_env(threads), timeout=timeout)
    if out.returncode != 0:
        fail(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stderr[-2000:]}")
    try:
        runs = [r for r in json.loads(out.stdout).get("benchmarks", []) if r["name"].startswith(case)]
    except ValueError:
        runs = []
    if not runs or "median_ms" not in runs[0]:
        fail(f"{binary} printed no {case} (is it a CPU build of this tree's bench_train_step?)\n{out.stderr[-2000:]}")
    return float(runs[0]["median_ms"])


def run_torch(python, model, threads, timeout):
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(thread_env(threads), ANCHOR_OUT=tmp, ANCHOR_CPU_THREADS=str(threads), ANCHOR_CPU_MODELS=model,
                   CUDA_VISIBLE_DEVICES="")
        cmd = [python, os.path.join(ROOT, "bench", "torch_anchor.py"), "cpu"]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if out.returncode != 0:
        fail(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stderr[-2000:]}")
    for line in out.stdout.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row.get("section") == "cpu_train_iter" and row.get("model") == model:
            return float(row["median_ms"])
    fail(f"bench/torch_anchor.py printed no cpu_train_iter row for {model}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--install-torch", action="store_true", help="create the virtual environment and install torch, then stop")
    ap.add_argument("--venv", default=os.path.join(ROOT, ".venv-torch"), help="its folder (default .venv-torch)")
    ap.add_argument("--python", default=None, help="a Python with torch to use instead of the venv's")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder with bench/bench_train_step")
    ap.add_argument("--before", default=None, help="another build folder (an older tree) to alternate with, for before/after")
    ap.add_argument("--threads", default=None, help="comma-separated thread counts (default: 1 and all cores)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated workloads (default: all three)")
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per single measurement (default 900)")
    ap.add_argument("--out", default=None, help="output folder (default runs/cpu-vs-torch-<date>)")
    args = ap.parse_args()

    if args.install_torch:
        install_torch(args.venv)
        return
    python = args.python or venv_python(args.venv)
    if not os.path.exists(python):
        fail(f"no Python with torch: {python} does not exist (run with --install-torch first, or pass --python)")
    tv = torch_version(python)
    if not tv:
        fail(f"{python} cannot import torch (run with --install-torch, or pass --python)")
    binaries = {"engine": os.path.join(args.build, "bench", "bench_train_step")}
    if args.before:
        binaries["before"] = os.path.join(args.before, "bench", "bench_train_step")
    for b in binaries.values():
        if not os.access(b, os.X_OK):
            fail(f"{b} is not built (cmake --build {os.path.dirname(os.path.dirname(b))} --target bench_train_step)")
    binary = binaries["engine"]
    models = [m for m in args.models.split(",") if m]
    if not models:
        fail(f"--models: '{args.models}' names no workload (expected some of {','.join(MODELS)})")
    for m in models:
        if m not in MODELS:
            fail(f"--models: unknown workload '{m}' (expected some of {','.join(MODELS)})")
    cores = os.cpu_count() or 1
    try:
        threads = [int(t) for t in (args.threads or f"1,{cores}").split(",") if t]
    except ValueError:
        fail(f"--threads: '{args.threads}' is not a comma-separated list of integers")
    threads = sorted(set(threads))
    if not threads or threads[0] < 1 or threads[-1] > 4096:
        fail(f"--threads: '{args.threads}': each count must lie in [1, 4096]")
    if not 1 <= args.rounds <= 1000:
        fail(f"--rounds: {args.rounds}: expected 1 to 1000")
    out = args.out or os.path.join(ROOT, "runs", "cpu-vs-torch-" + datetime.date.today().isoformat())
    os.makedirs(out, exist_ok=True)

    env_info = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu_model(), "cores": cores,
                "torch": tv, "engine_binary": binary, "before_binary": binaries.get("before"),
                "load_average_start": load_average(), "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}
    log(f"{env_info['cpu']}, {cores} cores, torch {tv}, load average {env_info['load_average_start']:.2f}")
    sides = list(binaries) + ["torch"]
    results = {(m, t): {side: [] for side in sides} for m in models for t in threads}
    for r in range(args.rounds):
        for t in threads:
            for m in models:
                order = sides[r % len(sides):] + sides[:r % len(sides)]  # each side goes first in turn
                for side in order:
                    ms = run_engine(binaries[side], m, t, args.timeout) if side != "torch" else run_torch(python, m, t, args.timeout)
                    if ms is None:
                        if side == "engine":
                            fail(f"{binaries[side]} has no case train_step/{m}/b64/cpu")
                        log(f"round {r + 1}/{args.rounds}  {m:15s} {t} thread(s)  {side:6s} (no such case in that build)")
                        continue
                    results[(m, t)][side].append(ms)
                    log(f"round {r + 1}/{args.rounds}  {m:15s} {t} thread(s)  {side:6s} {ms:9.2f} ms")
    env_info["load_average_end"] = load_average()

    rows = []
    for m in models:
        for t in threads:
            e, p = results[(m, t)]["engine"], results[(m, t)]["torch"]
            ratio = statistics.median(e) / statistics.median(p)
            per_round = [a / b for a, b in zip(e, p)]
            verdict = "met" if ratio <= TARGET else ("ahead" if ratio < 1.0 else "behind")
            row = {"model": m, "threads": t, "engine_ms": e, "torch_ms": p, "ratio": ratio,
                   "round_ratios": per_round, "verdict": verdict}
            if results[(m, t)].get("before"):
                b = results[(m, t)]["before"]
                row.update(before_ms=b, before_ratio=statistics.median(b) / statistics.median(p),
                           after_over_before=statistics.median(e) / statistics.median(b))
            rows.append(row)
    fmt = lambda xs: ", ".join(f"{x:.1f}" for x in xs)
    lines = [f"CPU training steps, engine beside PyTorch {tv}, {env_info['date']}",
             f"{env_info['cpu']}, {cores} cores; load average {env_info['load_average_start']:.2f} at the start, "
             f"{env_info['load_average_end']:.2f} at the end; {args.rounds} alternated rounds; "
             f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')} on both sides; "
             f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')} (the engine's products: OpenBLAS "
             "chooses its kernels by it; PyTorch's do not use OpenBLAS)",
             "",
             ]
    before = "before" in binaries
    head = "| workload | threads | "
    if before:
        head += "before ms (rounds) | "
    head += "engine ms (rounds) | PyTorch ms (rounds) | "
    if before:
        head += "before / PyTorch | "
    head += "engine / PyTorch | per round | target <= 0.7 |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        line = f"| {row['model']} | {row['threads']} | "
        if before:
            line += (f"{statistics.median(row['before_ms']):.1f} ({fmt(row['before_ms'])}) | " if "before_ms" in row
                     else "- (not in that build) | ")
        line += (f"{statistics.median(row['engine_ms']):.1f} ({fmt(row['engine_ms'])}) | "
                 f"{statistics.median(row['torch_ms']):.1f} ({fmt(row['torch_ms'])}) | ")
        if before:
            line += f"{row['before_ratio']:.3f} | " if "before_ms" in row else "- | "
        line += f"{row['ratio']:.3f} | {', '.join(f'{x:.2f}' for x in row['round_ratios'])} | {row['verdict']} |"
        lines.append(line)
    report = "\n".join(lines) + "\n"
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(report)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"environment": env_info, "rows": rows}, f, indent=1)
    log("\n" + report)
    log(f"written: {out}/report.md, {out}/summary.json")


if __name__ == "__main__":
    main()
