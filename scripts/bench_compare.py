#!/usr/bin/env python3
"""Runs the engine's benchmarks and the PyTorch anchor (bench/torch_anchor.py) in the same run on
the same machine, and prints one table: whole training steps (engine ms, PyTorch eager ms, PyTorch
CUDA-graph ms, ratios), the same steps beside PyTorch's AMP bf16 + channels_last eager, CUDA-graph
replay (fp32 and AMP bf16) and torch.compile rows, per-kernel rows beside the anchor's per-op numbers
where both exist, and the issues' targets, each marked met or missed. Every result is written as
JSON into the output folder:

  OUT/engine/<binary>.json     Google Benchmark's JSON of each engine binary (attempts merged)
  OUT/engine/<binary>.log      its standard error and the commands run
  OUT/torch_anchor.json        the anchor's measurements (its own format)
  OUT/summary.json             the tables below, the ceilings and the environment
  OUT/report.md                the same tables in Markdown, plus every per-kernel case with its
                               roofline fractions (for docs/PERFORMANCE.md)

Usage (after a CUDA build; see docs/PERFORMANCE.md):
  python3 scripts/bench_compare.py --build build-cuda --out runs/bench [--quick] [--anchor-compile dcgan64]
  python3 scripts/bench_compare.py --out runs/bench --report-only    # the tables again, nothing run

Standard library only. The anchor needs torch and a GPU; without them the engine's figures are
printed alone. On a machine without a GPU the engine's CPU cases run instead.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL_BINARIES = ["bench_elementwise", "bench_bce", "bench_batchnorm", "bench_conv2d",
                   "bench_conv_transpose2d", "bench_penalty", "bench_optim", "bench_embedding", "bench_pool",
                   "bench_spatial"]
STICKY = re.compile(r"CUDA error|cuBLAS error|cuDNN error")

# The whole-step targets: engine / PyTorch eager, TF32 allowed on both.
STEP_TARGETS = {"dcgan64": 0.5, "dcgan32_cifar": 0.5, "mlp_mnist": 0.3, "wgangp_dcgan32_cifar": 0.6}
# Every whole-step workload of bench_train_step (model, batch), as the anchor names them.
WHOLE_STEPS = [("mlp_mnist", 64), ("dcgan32_mnist", 128), ("dcgan32_cifar", 128), ("dcgan64", 128),
               ("wgangp_dcgan32_cifar", 64), ("dcgan32_readme", 64), ("cyclegan_256", 1)]
# The anchor's whole-step rows, found by the prefix of their impl (bench/torch_anchor.py, IMPL).
TORCH_EAGER = "torch eager fp32"  # "... (cudnn tf32 default)"; the WGAN-GP row is just this
TORCH_STRICT = "torch eager strict fp32"
TORCH_GRAPH = "torch cuda-graph replay fp32"
TORCH_AMP = "torch amp bf16"  # "torch amp bf16 channels_last eager" ("torch amp bf16 eager" for the MLP)
TORCH_AMP_GRAPH = "torch cuda-graph replay amp bf16"
TORCH_COMPILE = "torch.compile"
TORCH_REFS = {"eager": (TORCH_EAGER, "torch eager fp32"), "graph": (TORCH_GRAPH, "torch cuda-graph replay fp32"),
              "amp": (TORCH_AMP, "torch amp bf16 eager")}
# The GPU speed issue's targets: (model, PyTorch row, bound on engine / PyTorch, engine precision).
# The engine side is its fastest whole step with TF32 allowed, plain or recorded (captured/); the
# bf16 rows wait for engine bf16 variants (<case>/{hand,cudnn}.bf16), "-" until then.
SPEED_TARGETS = [("dcgan64", "eager", 0.5, "fp32"), ("dcgan64", "graph", 0.9, "fp32"),
                 ("dcgan32_cifar", "eager", 0.5, "fp32"), ("wgangp_dcgan32_cifar", "eager", 0.5, "fp32"),
                 ("mlp_mnist", "graph", 0.8, "fp32")] + [
                    (m, "amp", 0.6, "bf16") for m in ("dcgan64", "dcgan32_cifar", "wgangp_dcgan32_cifar", "mlp_mnist")]
CPU_STEP_TARGET = 1.5  # MLP GAN on 2 CPU threads: engine / PyTorch CPU
ELEMENTWISE_TARGET = 0.9  # fraction of the copy ceiling at the large size
HAND_TC_TARGET = 0.8  # hand tensor-core convolutions: at least this fraction of cuDNN's speed
CONVT_TARGET = 1.5  # hand / cuDNN, strict FP32, DCGAN shapes


class Terminated(Exception):
    """SIGTERM (e.g. from `timeout`): stop measuring, report what there is."""


def on_sigterm(signum, frame):
    # `timeout` signals the process and then its whole group, so a second SIGTERM follows at once.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- running the engine binaries

def load_json_tolerant(path):
    """Google Benchmark writes its JSON as it goes; a crash leaves it unterminated. Keep what is whole."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    # Cut after the last complete benchmark object and close the array and the document.
    i = text.find('"benchmarks"')
    if i < 0:
        return None
    j = text.rfind("}", i)
    while j > i:
        try:
            return json.loads(text[: j + 1] + "]}")
        except ValueError:
            j = text.rfind("}", i, j)
    return None


def base_name(run_name):
    """'conv2d.fwd/128x3x64x64-64x32x32/hand/iterations:30/manual_time' -> without the suffixes."""
    return run_name.split("/iterations:")[0].split("/manual_time")[0]


def regex_escape(s):
    """Escapes for the POSIX extended regexes of --benchmark_filter ('-' stays literal there)."""
    return "".join("\\" + ch if ch in ".[]()*+?^$|{}\\" else ch for ch in s)


def list_cases(binary, args, env):
    out = subprocess.run([binary, "--benchmark_list_tests"] + args, capture_output=True, text=True, env=env,
                         timeout=120)
    return [base_name(l.strip()) for l in out.stdout.splitlines() if l.strip()]


def run_binary(binary, args, outdir, tag, env, timeout):
    """Runs one binary and returns its JSON with every case's run. If the process dies, the case it
    died in is recorded as failed and the remaining cases run in a fresh process; if a CUDA error
    poisons the cases after the one that raised it (a sticky error fails every later call), those
    cases run again in a fresh process too. JSON goes to stdout line-buffered (stdbuf), so a crash
    loses nothing that finished."""
    all_cases = list_cases(binary, args, env)
    final, died = {}, {}
    done = set()
    context = {}
    lpath = os.path.join(outdir, f"{tag}.log")
    stdbuf = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
    rc = 0
    for attempt in range(4):
        todo = [c for c in all_cases if c not in done]
        if not todo:
            break
        run_args = args
        if done:  # exactly the cases still to run (this replaces any filter of the first attempt)
            run_args = [a for a in args if not a.startswith("--benchmark_filter=")]
            run_args.append("--benchmark_filter=^(" + "|".join(regex_escape(c) + "/" for c in todo) + ")")
        jpath = os.path.join(outdir, f"{tag}.attempt{attempt}.json")
        cmd = stdbuf + [binary] + run_args + ["--benchmark_format=json"]
        t0 = time.time()
        with open(jpath, "w") as jf, open(lpath, "a") as lf:
            lf.write(f"$ {' '.join(cmd)}\n")
            lf.flush()
            try:
                rc = subprocess.run(cmd, stdout=jf, stderr=lf, env=env, timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            except Terminated:
                rc = "terminated"
        data = load_json_tolerant(jpath) or {}
        context = context or data.get("context", {})
        runs = {base_name(r["name"]): r for r in data.get("benchmarks", [])
                if r.get("run_type", "iteration") == "iteration"}
        log(f"  {tag}: attempt {attempt}: exit {rc}, {len(runs)} of {len(todo)} cases, {time.time() - t0:.1f} s")
        first_sticky, retry = None, False
        for c in todo:
            r = runs.get(c)
            if r is None:
                continue
            if r.get("error_occurred") and STICKY.search(r.get("error_message", "")):
                if first_sticky is None:
                    first_sticky = c
                else:
                    retry = True  # probably poisoned by the first one: run it again
                    continue
            final[c] = r
            done.add(c)
        if rc in ("timeout", "terminated"):
            break
        if rc != 0:
            nxt = next((c for c in todo if c not in runs), None)
            if nxt is None:
                break
            died[nxt] = f"process died (exit {rc}) while running this case"
            done.add(nxt)
        elif not retry:
            break
    ordered = [final[c] for c in all_cases if c in final]
    errors = {c: r.get("error_message", "") for c, r in final.items() if r.get("error_occurred")}
    errors.update(died)
    merged = {"context": context, "benchmarks": ordered, "errors": errors,
              "not_run": [c for c in all_cases if c not in final and c not in died],
              "terminated": rc == "terminated", "timed_out": rc == "timeout"}
    with open(os.path.join(outdir, f"{tag}.json"), "w") as f:
        json.dump(merged, f, indent=1)
    return merged


# ---------------------------------------------------------------- collecting numbers

def engine_index(results):
    """{case base name: run} over every engine binary's results (errored runs included, flagged)."""
    idx = {}
    for data in results.values():
        for r in (data or {}).get("benchmarks", []):
            if r.get("run_type", "iteration") != "iteration":
                continue
            idx[base_name(r["name"])] = r
    return idx


def ms(idx, name):
    r = idx.get(name)
    if not r or r.get("error_occurred"):
        return None
    v = r.get("median_ms")
    return float(v) if v is not None else None


def best(idx, names):
    """Fastest of several engine variants: (ms, variant) or (None, None)."""
    cands = [(ms(idx, n), n.rsplit("/", 1)[-1]) for n in names]
    cands = [c for c in cands if c[0] is not None]
    return min(cands) if cands else (None, None)


def fmt(x, nd=3):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if abs(x) >= 1000:
        return f"{x:.0f}"
    return f"{x:.{nd}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def table(headers, rows):
    w = [len(h) for h in headers]
    srows = [[fmt(c) if not isinstance(c, str) else c for c in r] for r in rows]
    for r in srows:
        for i, c in enumerate(r):
            w[i] = max(w[i], len(c))
    lines = ["  ".join(h.ljust(w[i]) for i, h in enumerate(headers)),
             "  ".join("-" * w[i] for i in range(len(headers)))]
    for r in srows:
        lines.append("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    return "\n".join(lines)


def md_table(headers, rows):
    srows = [[fmt(c) if not isinstance(c, str) else c for c in r] for r in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in srows]
    return "\n".join(lines)


class Report:
    """Prints the tables and keeps a Markdown copy (OUT/report.md) for docs/PERFORMANCE.md."""

    def __init__(self):
        self.md = []

    def text(self, line):
        print(line)
        self.md.append(line)

    def table(self, title, headers, rows, console=True):
        if console:
            print("\n" + title)
            print(table(headers, rows))
        self.md += ["", "### " + title, "", md_table(headers, rows)]


def variant_table(idx):
    """Whole steps per kernel choice: what each engine variant took."""
    vs = ["hand", "cudnn", "hand.tf32", "cudnn.tf32"]
    rows = []
    for model, batch in WHOLE_STEPS:
        vals = [ms(idx, f"train_step/{model}/b{batch}/{v}") for v in vs]
        if any(v is not None for v in vals):
            rows.append([model, str(batch)] + [fmt(v) for v in vals])
    return ["model", "batch"] + [v + " ms" for v in vs], rows


def trainer_table(idx, anchor):
    """The trainer's step with data loading (trainer/...) beside the same step on a fixed batch
    (train_step/...) and PyTorch eager."""
    rows = []
    for model, batch in LOADED_STEPS:
        t_tf, v_tf = best(idx, [f"trainer/{model}/b{batch}/{v}" for v in ("hand.tf32", "cudnn.tf32")])
        t_st, _ = best(idx, [f"trainer/{model}/b{batch}/{v}" for v in ("hand", "cudnn")])
        t_cpu = ms(idx, f"trainer/{model}/b{batch}/cpu")
        o_tf, _ = best(idx, [f"train_step/{model}/b{batch}/{v}" for v in ("hand.tf32", "cudnn.tf32")])
        o_cpu = ms(idx, f"train_step/{model}/b{batch}/cpu")
        c_tf, c_fixed = captured_loading(idx, model, batch)
        if all(x is None for x in (t_tf, t_st, t_cpu, c_tf)):
            continue
        rows.append([model, str(batch), fmt(t_tf), v_tf or "-", fmt(t_st), fmt(ratio(t_tf, o_tf), 2),
                     fmt(ratio(t_tf, anchor_train(anchor, model, TORCH_EAGER)), 2), fmt(c_tf),
                     fmt(ratio(c_tf, c_fixed), 2), fmt(t_cpu), fmt(ratio(t_cpu, o_cpu), 2)])
    return ["model", "batch", "with loading ms (tf32)", "variant", "with loading ms (fp32)", "loading/fixed batch",
            "loading/torch eager", "captured with loading ms", "captured loading/fixed", "with loading cpu ms",
            "cpu loading/fixed batch"], rows


LOADED_STEPS = [("mlp_mnist", 64), ("dcgan32_cifar", 128), ("dcgan64", 128)]
LOADING_TARGET = 1.05  # `gan train`'s step (data loading included) within 5% of the bench's captured step


def captured_loading(idx, model, batch):
    """The recorded step reading the shuffled data set (captured_trainer/, what `gan train --cuda-graph on`
    runs) and the recorded step on a fixed batch (captured/), both the fastest TF32 variant."""
    vs = ("hand.tf32", "cudnn.tf32")
    loaded, _ = best(idx, [f"captured_trainer/{model}/b{batch}/{v}" for v in vs])
    fixed, _ = best(idx, [f"captured/{model}/b{batch}/{v}" for v in vs])
    return loaded, fixed


def kernel_listing(idx):
    """Every per-kernel case with its roofline counters (for the Markdown report)."""
    rows = []
    for name, r in idx.items():
        if name.startswith(("train_step/", "trainer/", "captured/", "captured_trainer/", "unfused/")):
            continue
        case, variant = name.rsplit("/", 1)
        if r.get("error_occurred"):
            rows.append([case, variant, "error: " + r.get("error_message", "")[:80]] + ["-"] * 6 + [r.get("label", "")])
            continue
        g = lambda k: r.get(k)  # noqa: E731
        rows.append([case, variant, fmt(g("median_ms")), fmt(g("GBps"), 1), fmt(g("frac_copy"), 2),
                     fmt(g("TFLOPs"), 2), fmt(g("frac_fp32"), 2), fmt(g("frac_tf32"), 3), str(int(g("repeats") or 0)),
                     r.get("label", "")])
    return ["case", "variant", "median ms", "GB/s", "of copy", "TFLOP/s", "of FP32", "of TF32", "repeats",
            "layers"], rows


def anchor_rows(anchor, section, **match):
    out = []
    for a in anchor:
        if a.get("section") != section or "error" in a:
            continue
        if all(a.get(k) == v for k, v in match.items()):
            out.append(a)
    return out


def anchor_train(anchor, model, impl_prefix):
    for a in anchor_rows(anchor, "train_iter", model=model):
        if a.get("impl", "").startswith(impl_prefix):
            return a.get("median_ms")
    return None


def step_table(idx, anchor):
    variants_strict = ["hand", "cudnn"]
    variants_tf32 = ["hand.tf32", "cudnn.tf32"]
    rows, recs = [], []
    for model, batch in WHOLE_STEPS:
        base = f"train_step/{model}/b{batch}/"
        e_tf, v_tf = best(idx, [base + v for v in variants_tf32])
        e_st, v_st = best(idx, [base + v for v in variants_strict])
        if e_tf is None and e_st is None and anchor_train(anchor, model, TORCH_EAGER) is None:
            continue
        t_eager = anchor_train(anchor, model, TORCH_EAGER)
        t_strict = anchor_train(anchor, model, TORCH_STRICT)
        t_graph = anchor_train(anchor, model, TORCH_GRAPH)
        r_eager = ratio(e_tf, t_eager)
        target = STEP_TARGETS.get(model)
        met = None if r_eager is None or target is None else r_eager <= target
        rec = dict(model=model, batch=batch, engine_tf32_ms=e_tf, engine_tf32_variant=v_tf, engine_strict_ms=e_st,
                   engine_strict_variant=v_st, torch_eager_ms=t_eager, torch_strict_ms=t_strict,
                   torch_graph_ms=t_graph, engine_over_eager=r_eager, engine_over_graph=ratio(e_tf, t_graph),
                   strict_engine_over_strict_torch=ratio(e_st, t_strict), target=target, target_met=met,
                   images_per_s=(batch / (e_tf * 1e-3)) if e_tf else None,
                   per_variant={v: ms(idx, base + v) for v in variants_strict + variants_tf32})
        recs.append(rec)
        rows.append([model, str(batch), fmt(e_tf), v_tf or "-", fmt(e_st), fmt(t_eager), fmt(t_strict), fmt(t_graph),
                     fmt(r_eager, 2), fmt(rec["engine_over_graph"], 2), fmt(rec["strict_engine_over_strict_torch"], 2),
                     "-" if target is None else f"<= {target}" + ("" if met is None else (" met" if met else " MISSED"))])
    hdr = ["model", "batch", "engine ms (tf32)", "variant", "engine ms (fp32)", "torch eager", "torch fp32",
           "torch graph", "eng/eager", "eng/graph", "fp32 eng/torch", "target"]
    return hdr, rows, recs


def captured_table(idx, anchor):
    """The step recorded as a CUDA graph (captured/...) beside the same step uncaptured and PyTorch's
    eager and CUDA-graph replay."""
    rows, recs = [], []
    for model, batch in WHOLE_STEPS:
        vs = ["hand.tf32", "cudnn.tf32"]
        c_tf, cv = best(idx, [f"captured/{model}/b{batch}/{v}" for v in vs])
        u_tf, uv = best(idx, [f"train_step/{model}/b{batch}/{v}" for v in vs])
        if c_tf is None and u_tf is None:
            continue
        t_eager = anchor_train(anchor, model, TORCH_EAGER)
        t_graph = anchor_train(anchor, model, TORCH_GRAPH)
        rec = dict(model=model, batch=batch, captured_ms=c_tf, captured_variant=cv, uncaptured_ms=u_tf,
                   uncaptured_variant=uv, captured_over_uncaptured=ratio(c_tf, u_tf),
                   captured_over_torch_eager=ratio(c_tf, t_eager), captured_over_torch_graph=ratio(c_tf, t_graph))
        recs.append(rec)
        rows.append([model, str(batch), fmt(c_tf), cv or "-", fmt(u_tf), fmt(rec["captured_over_uncaptured"], 2),
                     fmt(t_eager), fmt(t_graph), fmt(rec["captured_over_torch_eager"], 2),
                     fmt(rec["captured_over_torch_graph"], 2)])
    return ["model", "batch", "captured ms (tf32)", "variant", "uncaptured ms", "captured/uncaptured", "torch eager",
            "torch graph", "captured/eager", "captured/graph"], rows, recs


def fusion_table(idx):
    """What layer fusion gains on the GPU: each whole step with fusion on (train_step/) and off
    (unfused/: batch norm, or a layer's bias, and the activation as two ops), per kernel choice; and
    the bias + LeakyReLU pass beside the two passes it replaces. The bf16 steps' cast counters say
    what the primitives without bfloat16 kernels still cost per step."""
    rows = []
    for model, batch in WHOLE_STEPS:
        for v in ("hand.tf32", "cudnn.tf32", "hand.bf16", "cudnn.bf16"):
            on, off = ms(idx, f"train_step/{model}/b{batch}/{v}"), ms(idx, f"unfused/{model}/b{batch}/{v}")
            if on is None and off is None:
                continue
            r = idx.get(f"train_step/{model}/b{batch}/{v}") or {}
            ru = idx.get(f"unfused/{model}/b{batch}/{v}") or {}
            casts = r.get("bf16_casts_per_step")
            mb = r.get("bf16_cast_MB_per_step")
            pf, pu = r.get("primitives_per_step"), ru.get("primitives_per_step")
            prims = f"{fmt(float(pf), 0) if pf is not None else '-'} / {fmt(float(pu), 0) if pu is not None else '-'}"
            rows.append([f"{model} b{batch}", v, fmt(on), fmt(off), fmt(ratio(on, off), 2), prims,
                         fmt(float(casts), 0) if casts is not None else "-", fmt(float(mb), 1) if mb is not None else "-"])
    for name in sorted(idx):
        if name.startswith("elementwise.bias_act_leaky/"):
            pair = name.replace("bias_act_leaky", "bias_then_leaky")
            f, u = ms(idx, name), ms(idx, pair)
            rows.append([name.split("/")[1], name.rsplit("/", 1)[-1] + " (one pass)", fmt(f), fmt(u),
                         fmt(ratio(f, u), 2), "-", "-", "-"])
        if name.startswith("elementwise.bias_act_leaky_bwd/"):
            pair = name.replace("bias_act_leaky_bwd", "leaky_bwd_then_sum")
            f, u = ms(idx, name), ms(idx, pair)
            rows.append([name.split("/")[1], name.rsplit("/", 1)[-1] + " (backward)", fmt(f), fmt(u),
                         fmt(ratio(f, u), 2), "-", "-", "-"])
    for v in ("hand.tf32", "cudnn.tf32"):
        r = idx.get(f"train_step/toy_wgangp/b256/{v}")
        if r and not r.get("error_occurred"):
            p = r.get("primitives_per_step")
            rows.append(["toy_wgangp b256", v, fmt(ms(idx, f"train_step/toy_wgangp/b256/{v}")), "-", "-",
                         f"{fmt(float(p), 0) if p is not None else '-'} / -", "-", "-"])
    return ["step or tensor", "variant", "fused ms", "unfused ms", "fused/unfused", "primitives/step fused / unfused",
            "bf16 casts/step", "bf16 cast MB/step"], rows


def engine_best(idx, model, batch, suffixes=("hand.tf32", "cudnn.tf32")):
    """The engine's fastest whole step, plain (train_step/) or recorded as a CUDA graph (captured/):
    (ms, e.g. "captured cudnn.tf32") or (None, None)."""
    cands = []
    for kind in ("train_step", "captured"):
        t, v = best(idx, [f"{kind}/{model}/b{batch}/{s}" for s in suffixes])
        if t is not None:
            cands.append((t, ("captured " if kind == "captured" else "") + v))
    return min(cands) if cands else (None, None)


def speed_table(idx, anchor):
    """The engine's fastest step beside each of PyTorch's modes: eager fp32, AMP bf16 (channels_last)
    eager, CUDA-graph replay in fp32 and AMP bf16, torch.compile."""
    rows, recs = [], []
    for model, batch in WHOLE_STEPS:
        e, ev = engine_best(idx, model, batch)
        e16, e16v = engine_best(idx, model, batch, ("hand.bf16", "cudnn.bf16"))
        t = {k: anchor_train(anchor, model, p) for k, p in [("eager", TORCH_EAGER), ("amp", TORCH_AMP),
                                                            ("graph", TORCH_GRAPH), ("amp_graph", TORCH_AMP_GRAPH),
                                                            ("compile", TORCH_COMPILE)]}
        if e is None and e16 is None and all(v is None for v in t.values()):
            continue
        rec = dict(model=model, batch=batch, engine_ms=e, engine_run=ev, engine_bf16_ms=e16, engine_bf16_run=e16v,
                   torch_eager_ms=t["eager"], torch_amp_bf16_ms=t["amp"], torch_graph_ms=t["graph"],
                   torch_amp_bf16_graph_ms=t["amp_graph"], torch_compile_ms=t["compile"],
                   engine_over_eager=ratio(e, t["eager"]), engine_over_graph=ratio(e, t["graph"]),
                   engine_over_amp=ratio(e, t["amp"]), engine_over_amp_graph=ratio(e, t["amp_graph"]),
                   engine_over_compile=ratio(e, t["compile"]), bf16_engine_over_amp=ratio(e16, t["amp"]))
        recs.append(rec)
        rows.append([model, str(batch), fmt(e), ev or "-", fmt(t["eager"]), fmt(t["amp"]), fmt(t["graph"]),
                     fmt(t["amp_graph"]), fmt(t["compile"]), fmt(rec["engine_over_eager"], 2),
                     fmt(rec["engine_over_graph"], 2), fmt(rec["engine_over_amp"], 2),
                     fmt(rec["engine_over_amp_graph"], 2), fmt(rec["engine_over_compile"], 2), fmt(e16),
                     fmt(rec["bf16_engine_over_amp"], 2)])
    hdr = ["model", "batch", "engine ms", "engine run", "torch eager", "torch amp bf16", "torch graph",
           "torch amp graph", "torch.compile", "eng/eager", "eng/graph", "eng/amp", "eng/amp graph", "eng/compile",
           "engine bf16", "bf16 eng/amp"]
    return hdr, rows, recs


def speed_targets(idx, anchor):
    """The GPU speed issue's targets, each met, MISSED or not measured ("-")."""
    batches = dict(WHOLE_STEPS)
    rows, recs = [], []
    for model, ref, bound, precision in SPEED_TARGETS:
        batch = batches[model]
        e, ev = engine_best(idx, model, batch, ("hand.bf16", "cudnn.bf16") if precision == "bf16" else
                            ("hand.tf32", "cudnn.tf32"))
        prefix, what = TORCH_REFS[ref]
        t = anchor_train(anchor, model, prefix)
        r = ratio(e, t)
        met = None if r is None else r <= bound
        name = f"{model} b{batch}: engine {precision} / {what} <= {bound}"
        recs.append(dict(target=name, model=model, batch=batch, reference=what, bound=bound, engine_ms=e,
                         engine_run=ev, torch_ms=t, ratio=r, met=met))
        rows.append([name, fmt(e), ev or "-", fmt(t), fmt(r, 2), "-" if met is None else ("met" if met else "MISSED")])
    for model, batch in LOADED_STEPS:
        loaded, fixed = captured_loading(idx, model, batch)
        r = ratio(loaded, fixed)
        met = None if r is None else r <= LOADING_TARGET
        name = f"{model} b{batch}: recorded step with data loading / on a fixed batch <= {LOADING_TARGET}"
        recs.append(dict(target=name, model=model, batch=batch, reference="captured/ fixed batch",
                         bound=LOADING_TARGET, engine_ms=loaded, engine_run="captured_trainer/", torch_ms=fixed,
                         ratio=r, met=met))
        rows.append([name, fmt(loaded), "captured_trainer/", fmt(fixed), fmt(r, 2),
                     "-" if met is None else ("met" if met else "MISSED")])
    return ["target", "engine ms", "engine run", "reference ms", "ratio", "status"], rows, recs


def anchor_train_errors(anchor):
    """The anchor's whole-step rows that have no time: (model, impl, reason)."""
    return [(a.get("model", "?"), a.get("impl", "?"), str(a.get("error", ""))) for a in anchor
            if a.get("section") == "train_iter" and "error" in a]


def cpu_table(idx, anchor, threads):
    rows, recs = [], []
    for model, batch in [("mlp_mnist", 64), ("dcgan32_mnist", 64)]:
        e = ms(idx, f"train_step/{model}/b{batch}/cpu")
        t = None
        for a in anchor_rows(anchor, "cpu_train_iter", model=model, threads=threads):
            t = a.get("median_ms")
        r = ratio(e, t)
        target = CPU_STEP_TARGET if model == "mlp_mnist" else None
        met = None if r is None or target is None else r <= target
        recs.append(dict(model=model, batch=batch, threads=threads, engine_ms=e, torch_ms=t, ratio=r, target=target,
                         target_met=met))
        rows.append([model, str(batch), str(threads), fmt(e), fmt(t), fmt(r, 2),
                     "-" if target is None else f"<= {target}" + ("" if met is None else (" met" if met else " MISSED"))])
    return ["model", "batch", "threads", "engine ms", "torch ms", "eng/torch", "target"], rows, recs


def shape_name(dims):
    return "x".join(str(d) for d in dims)


def engine_act_name(idx, prefix, n):
    """The engine's element-wise case of `n` elements (names carry the NCHW shape)."""
    for name in idx:
        if not name.startswith(prefix + "/") or not name.endswith("/hand"):
            continue
        dims = name.split("/")[1].split("_")[0].split("x")
        try:
            prod = 1
            for d in dims:
                prod *= int(d)
        except ValueError:
            continue
        if prod == n:
            return name.rsplit("/", 1)[0]
    return None


def op_table(idx, anchor):
    rows, recs = [], []

    def add(op, shape, torch_ms, eng_hand, eng_lib, note=""):
        rec = dict(op=op, shape=shape, torch_ms=torch_ms, hand_ms=eng_hand, cudnn_ms=eng_lib,
                   hand_over_torch=ratio(eng_hand, torch_ms), cudnn_over_torch=ratio(eng_lib, torch_ms),
                   hand_over_cudnn=ratio(eng_hand, eng_lib), note=note)
        recs.append(rec)
        rows.append([op, shape, fmt(torch_ms), fmt(eng_hand), fmt(eng_lib), fmt(rec["hand_over_torch"], 2),
                     fmt(rec["hand_over_cudnn"], 2), note])

    def total(names):
        vals = [ms(idx, n) for n in names]
        return sum(vals) if vals and all(v is not None for v in vals) else None

    for a in anchor_rows(anchor, "op"):
        op = a.get("op", "")
        if op.startswith("conv_transpose2d"):
            B, cin, hw, _, cout, oh = a["shape"]
            base = f"{B}x{cin}x{hw}x{hw}-{cout}x{oh}x{oh}"
            sfx = ".tf32" if a.get("tf32") else ""
            passes = ["fwd"] if op == "conv_transpose2d fwd" else ["fwd", "bwd_data", "bwd_weight"]
            h = total([f"conv_transpose2d.{p}/{base}/hand{sfx}" for p in passes])
            c = total([f"conv_transpose2d.{p}/{base}/cudnn{sfx}" for p in passes])
            add(op + (" tf32" if a.get("tf32") else " fp32"), base, a["median_ms"], h, c,
                "" if len(passes) == 1 else "engine: sum of 3 passes")
        elif op.startswith("batchnorm2d"):
            s = shape_name(a["shape"])
            p = "fwd_train" if op == "batchnorm2d train fwd" else "fwd_bwd"
            add(op, s, a["median_ms"], ms(idx, f"batchnorm.{p}/{s}/hand"), ms(idx, f"batchnorm.{p}/{s}/cudnn"))
        elif op.startswith("leaky_relu"):
            fw = engine_act_name(idx, "elementwise.leaky_relu_fwd", a["n"])
            bw = engine_act_name(idx, "elementwise.leaky_relu_bwd", a["n"])
            if op == "leaky_relu fwd":
                h = ms(idx, fw + "/hand") if fw else None
                add(op, f"n={a['n']}", a["median_ms"], h, None)
            else:
                h = total([fw + "/hand", bw + "/hand"]) if fw and bw else None
                add(op, f"n={a['n']}", a["median_ms"], h, None, "engine: fwd + bwd")
        elif op.startswith("bce_with_logits"):
            add(op, f"n={a['n']}", a["median_ms"], ms(idx, f"bce.fused_targets/n{a['n']}/hand"), None,
                "engine: one fused pass")
        elif op.startswith("gradient_penalty"):
            n = "penalty.gp_critic_double_bwd/dcgan32.b64"
            add(op, "dcgan32 critic b64", a["median_ms"], ms(idx, n + "/hand.tf32"), ms(idx, n + "/cudnn.tf32"),
                "tf32 allowed")
        elif op.startswith("critic fwd+bwd"):
            n = "penalty.critic_fwd_bwd/dcgan32.b64"
            add(op, "dcgan32 critic b64", a["median_ms"], ms(idx, n + "/hand.tf32"), ms(idx, n + "/cudnn.tf32"),
                "tf32 allowed")
    hdr = ["op", "shape", "torch ms", "hand ms", "cudnn ms", "hand/torch", "hand/cudnn", "note"]
    return hdr, rows, recs


def kernel_targets(idx):
    """The per-kernel targets of the issue, from the engine's own cases."""
    out = []
    # element-wise at the large size: >= 90% of the copy ceiling
    for name, r in sorted(idx.items()):
        if name.startswith("elementwise.") and "/128x128x64x64" in name and name.endswith("/hand"):
            f = None if r.get("error_occurred") else r.get("frac_copy")
            out.append(dict(target=f"{name}: >= {ELEMENTWISE_TARGET} of copy ceiling", value=f,
                            met=None if f is None else f >= ELEMENTWISE_TARGET))
    # batch norm fwd+bwd faster than cuDNN at every DCGAN shape
    for name in sorted(idx):
        if name.startswith("batchnorm.fwd_bwd/") and name.endswith("/hand") and "128x64x128x128" not in name:
            h, c = ms(idx, name), ms(idx, name[: -len("hand")] + "cudnn")
            r = ratio(h, c)
            out.append(dict(target=f"{name[:-5]}: hand < cudnn", value=r, met=None if r is None else r < 1.0))
    # conv_transpose2d hand within 1.5x of cuDNN, strict FP32, DCGAN shapes
    for name in sorted(idx):
        if name.startswith("conv_transpose2d.") and name.endswith("/hand") and "large" not in name:
            if name.split("/")[1].startswith("128x512x32x32"):
                continue  # the GPU-filling size, not a DCGAN layer
            h, c = ms(idx, name), ms(idx, name[: -len("hand")] + "cudnn")
            r = ratio(h, c)
            out.append(dict(target=f"{name[:-5]}: hand <= {CONVT_TARGET} x cudnn (fp32)", value=r,
                            met=None if r is None else r <= CONVT_TARGET))
    # Issue 16: hand TF32 and BF16 convolutions at >= 0.8x cuDNN's speed (cudnn ms / hand ms) at the
    # DCGAN middle layers (64 channels or more on both sides; not the GPU-filling size)
    for name in sorted(idx):
        for sfx in ("tf32", "bf16"):
            if not (name.startswith(("conv2d.", "conv_transpose2d.")) and name.endswith(f"/hand.{sfx}")):
                continue
            layer = name.split("/")[1]
            if "large" in name or layer.startswith("128x512x32x32"):
                continue
            try:
                cin, cout = int(layer.split("-")[0].split("x")[1]), int(layer.split("-")[1].split("x")[0])
            except (IndexError, ValueError):
                continue
            if min(cin, cout) < 64:
                continue
            h, c = ms(idx, name), ms(idx, name[: -len(f"hand.{sfx}")] + f"cudnn.{sfx}")
            r = ratio(c, h)
            out.append(dict(target=f"{name[: -len(sfx) - 6]}: hand {sfx} speed >= {HAND_TC_TARGET} x cudnn",
                            value=r, met=None if r is None else r >= HAND_TC_TARGET))
    return out


# ---------------------------------------------------------------- main

def load_previous(out):
    """An earlier run's results from its output folder (--report-only): the engine's merged JSON per
    binary, the anchor's JSON, and whether the engine ran GPU cases."""
    results = {}
    edir = os.path.join(out, "engine")
    for f in sorted(os.listdir(edir)) if os.path.isdir(edir) else []:
        if f.endswith(".json") and ".attempt" not in f:
            results[f[: -len(".json")]] = load_json_tolerant(os.path.join(edir, f)) or {}
    try:
        with open(os.path.join(out, "torch_anchor.json")) as f:
            anchor = json.load(f)
    except (OSError, ValueError):
        anchor = []
    gpu = any(base_name(r.get("name", "")).endswith(("/hand", "/hand.tf32", "/cudnn", "/cudnn.tf32"))
              for data in results.values() for r in (data or {}).get("benchmarks", []))
    gpu = gpu or any(a.get("gpu") for a in anchor_rows(anchor, "env"))
    return results, anchor, gpu


def report(args, build, out, results, anchor, gpu, t_start, t_engine, interrupted):
    """Prints the tables and writes OUT/summary.json and OUT/report.md."""
    idx = engine_index(results)
    ctx = {}
    for data in results.values():
        for k, v in (data or {}).get("context", {}).items():
            ctx.setdefault(k, v)
    env_row = next(iter(anchor_rows(anchor, "env")), {})
    ceil_rows = {a["what"]: a["value"] for a in anchor_rows(anchor, "ceiling")}

    rep = Report()
    print()
    print("=" * 100)
    rep.text(f"GAN engine vs PyTorch, {datetime.date.today().isoformat()}, GPU: {ctx.get('gpu', '?')}, "
             f"CPU: {ctx.get('cpu_model', '?')}{' (quick run)' if args.quick else ''}")
    rep.text("")
    rep.text(f"engine: CUDA runtime {ctx.get('cuda_runtime', '-')}, driver {ctx.get('cuda_driver', '-')}, "
             f"cuDNN path built: {ctx.get('cudnn_built', '-')};  torch {env_row.get('torch', '-')}, "
             f"torch cuDNN {env_row.get('cudnn', '-')}, torch GPU {env_row.get('gpu', '-')}")
    rep.text("")

    def ceil(key):
        return float(ctx[key]) if key in ctx else None
    rep.text(f"ceilings (engine binary / torch): copy {fmt(ceil('ceil_copy_GBps'), 0)}"
             f" / {fmt(ceil_rows.get('d2d copy GB/s (read+write)'), 0)} GB/s;  "
             f"FP32 {fmt(ceil('ceil_fp32_TFLOPs'), 1)} / {fmt(ceil_rows.get('fp32 sgemm (no tf32) TFLOP/s'), 1)} TFLOP/s;  "
             f"TF32 {fmt(ceil('ceil_tf32_TFLOPs'), 1)} / {fmt(ceil_rows.get('tf32 gemm TFLOP/s'), 1)} TFLOP/s;  "
             f"CPU copy {fmt(ceil('ceil_cpu_copy_GBps'), 1)} GB/s, CPU SGEMM {fmt(ceil('ceil_cpu_sgemm_TFLOPs'), 3)} TFLOP/s")

    summary = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), quick=args.quick, build=build,
                   engine_context=ctx, anchor_env=env_row, anchor_ceilings=ceil_rows,
                   engine_seconds=round(t_engine, 1), interrupted=interrupted)
    if gpu:
        hdr, rows, recs = step_table(idx, anchor)
        rep.table("Whole training iteration, median ms (engine: fastest kernel choice with TF32 allowed, and in "
                  "strict FP32; torch eager with its TF32 conv default, strict FP32, CUDA-graph replay)", hdr, rows)
        summary["train_steps"] = recs
        hdr, rows, recs = speed_table(idx, anchor)
        if rows:
            rep.table("Whole training iteration beside PyTorch's faster modes, median ms (engine: fastest step with "
                      "TF32 allowed, plain or captured; torch: eager fp32, AMP bf16 + channels_last eager, CUDA-graph "
                      "replay fp32 and AMP bf16, torch.compile fp32; engine bf16: its fastest bf16 step)", hdr, rows)
        summary["speed_steps"] = recs
        hdr, rows, recs = speed_targets(idx, anchor)
        rep.table("Whole-step targets of the GPU speed issue (engine / PyTorch, same run)", hdr, rows)
        summary["speed_targets"] = recs
        errs = anchor_train_errors(anchor)
        summary["anchor_train_errors"] = [dict(model=m, impl=i, error=e) for m, i, e in errs]
        if errs:
            rep.text("")
            rep.text(f"PyTorch whole-step rows without a time ({len(errs)}):")
            for m, i, e in errs:
                rep.text(f"  {m}, {i}: {e[:160]}")
        hdr, rows = variant_table(idx)
        rep.table("Whole training iteration per engine kernel choice, median ms", hdr, rows)
        hdr, rows, recs = captured_table(idx, anchor)
        if rows:
            rep.table("Whole training iteration recorded as a CUDA graph (--cuda-graph on), median ms", hdr, rows)
            summary["captured_steps"] = recs
        hdr, rows = fusion_table(idx)
        if rows:
            rep.table("Layer fusion (batch norm + activation, bias + activation): fused beside unfused, median ms",
                      hdr, rows)
    hdr, rows = trainer_table(idx, anchor)
    if rows:
        rep.table("Whole training iteration with data loading (the next shuffled batch, copied and scaled), median ms", hdr, rows)
    hdr, rows, recs = cpu_table(idx, anchor, args.cpu_threads)
    rep.table(f"Whole training iteration on the CPU ({args.cpu_threads} threads), median ms", hdr, rows)
    summary["cpu_train_steps"] = recs
    if not args.no_kernels:
        if gpu:
            hdr, rows, recs = op_table(idx, anchor)
            if rows:
                rep.table("Per kernel vs the anchor's per-op numbers, median ms", hdr, rows)
            summary["ops"] = recs
            kt = kernel_targets(idx)
            summary["kernel_targets"] = kt
            if kt:
                rep.table("Per-kernel targets", ["target", "value", "status"],
                          [[t["target"], fmt(t["value"], 3), "-" if t["met"] is None else ("met" if t["met"] else "MISSED")]
                           for t in kt])
        hdr, rows = kernel_listing(idx)
        rep.table("Every per-kernel case (median; fractions of the ceilings above)", hdr, rows, console=False)
    failed = {k: v for data in results.values() for k, v in (data or {}).get("errors", {}).items()}
    summary["engine_errors"] = failed
    if failed:
        print(f"\n{len(failed)} engine case(s) failed (full messages in {os.path.join(out, 'summary.json')}):")
        for k, v in list(failed.items())[:15]:
            print(f"  {k}: {v[:160]}")
    not_run = [c for data in results.values() for c in (data or {}).get("not_run", [])]
    summary["engine_not_run"] = not_run
    if not_run:
        print(f"\n{len(not_run)} engine case(s) did not run (time-out or repeated crashes); first: {not_run[0]}")
    falls = [n for n, r in idx.items() if r.get("fallback")]
    if falls:
        print(f"\n{len(falls)} case(s) ran a fallback kernel instead of the one asked for (see their labels):")
        for n in falls[:10]:
            print(f"  {n}")
    summary["fallbacks"] = falls
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(rep.md) + "\n")
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"\nengine {t_engine:.0f} s, total {time.time() - t_start:.0f} s; JSON in {out}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=None, help="build folder (default: build-cuda if built, else build)")
    ap.add_argument("--out", default=None, help="output folder (default: runs/bench-<date>)")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, fewer CPU cases (about half the time)")
    ap.add_argument("--no-anchor", action="store_true", help="skip bench/torch_anchor.py")
    ap.add_argument("--no-kernels", action="store_true", help="whole steps only, no per-kernel binaries")
    ap.add_argument("--families", default="",
                    help="comma-separated kernel families to run (elementwise,bce,batchnorm,conv2d,"
                         "conv_transpose2d,penalty,optim); default: all")
    ap.add_argument("--cpu-threads", type=int, default=2, help="OpenMP threads for the CPU cases (default 2)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per engine binary (default 300)")
    ap.add_argument("--anchor-timeout", type=int, default=240, help="seconds for the anchor (default 240)")
    ap.add_argument("--anchor-compile", default="", metavar="MODELS",
                    help="also run the anchor's torch.compile rows for these comma-separated workloads (e.g. "
                         "dcgan64; 'all': every one; default: none, compiling takes tens of seconds per model)")
    ap.add_argument("--report-only", action="store_true",
                    help="run nothing: print the tables from an earlier run's --out folder (OUT/engine/*.json, "
                         "OUT/torch_anchor.json) and rewrite its summary.json and report.md")
    ap.add_argument("--deadline", type=int, default=0,
                    help="seconds for the whole run: later steps shrink or are skipped so that the tables are "
                         "still printed in time (default: none; SIGTERM also stops early and reports)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)

    if args.report_only:
        if not args.out:
            sys.exit("bench_compare: --report-only needs --out (the folder of an earlier run)")
        results, anchor, gpu = load_previous(args.out)
        if not results and not anchor:
            sys.exit(f"bench_compare: nothing to report in {args.out} (no engine/*.json, no torch_anchor.json)")
        return report(args, args.build or "-", args.out, results, anchor, gpu, time.time(), 0.0, False)

    build = args.build
    if build is None:
        build = next((b for b in ("build-cuda", "build")
                      if os.path.exists(os.path.join(ROOT, b, "bench", "bench_train_step"))), "build")
    bench_dir = os.path.join(ROOT, build, "bench") if not os.path.isabs(build) else os.path.join(build, "bench")
    out = args.out or os.path.join(ROOT, "runs", "bench-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    edir = os.path.join(out, "engine")
    os.makedirs(edir, exist_ok=True)
    t_start = time.time()

    step_bin = os.path.join(bench_dir, "bench_train_step")
    if not os.path.exists(step_bin):
        sys.exit(f"bench_compare: {step_bin} not found: build the bench targets first (see docs/PERFORMANCE.md)")

    wanted = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in wanted if "bench_" + f not in KERNEL_BINARIES]
    if unknown:
        sys.exit(f"bench_compare: unknown kernel families {unknown}")
    env = dict(os.environ)
    cpu_env = dict(env, OMP_NUM_THREADS=str(args.cpu_threads))
    q = ["--quick"] if args.quick else []

    # Is there a GPU the engine can use? Ask the binary (its listing shows GPU cases only then).
    gpu = any(c.endswith(("/hand", "/hand.tf32")) for c in list_cases(step_bin, [], env))
    log(f"bench_compare: build {build}, output {out}, GPU cases: {'yes' if gpu else 'no'}, "
        f"{'quick' if args.quick else 'full'} run")

    results = {}
    anchor = []
    t_engine = 0.0
    deadline = t_start + args.deadline if args.deadline else None

    def left():
        return None if deadline is None else deadline - time.time()

    def limit(cap):
        """A step's time limit: its own cap, or what is left before --deadline."""
        lft = left()
        return cap if lft is None else max(5, min(cap, int(lft) - 5))

    def engine(key, binary, extra, tag, run_env, what):
        nonlocal t_engine
        lft = left()
        if lft is not None and lft < 15:
            log(f"engine: {what}: skipped, --deadline reached")
            return
        log(f"engine: {what}")
        t0 = time.time()
        results[key] = run_binary(binary, q + extra, edir, tag, run_env, limit(args.timeout))
        t_engine += time.time() - t0
        if results[key].get("terminated"):
            raise Terminated()

    def run_anchor():
        nonlocal anchor
        anchor_path = os.path.join(ROOT, "bench", "torch_anchor.py")
        sections = ["ceil", "train", "ops", "cpu"] if gpu else ["cpu"]
        lft = left()
        if lft is not None and lft < 20:
            log("anchor: skipped, --deadline reached")
            return
        alimit = limit(args.anchor_timeout)
        # The train section's rows stop starting past ~60% of the anchor's time, so that its per-op and
        # CPU sections still run; torch.compile (slow) only when asked, last.
        aenv = dict(env, ANCHOR_OUT=out, SKIP_COMPILE="1")
        aenv.setdefault("ANCHOR_TRAIN_BUDGET_S", str(max(20, int(alimit * 0.6))))
        if args.anchor_compile and gpu:
            sections.append("compile")
            aenv["SKIP_COMPILE"] = "0"
            if args.anchor_compile != "all":
                aenv["ANCHOR_COMPILE_MODELS"] = args.anchor_compile
        log(f"anchor: python3 bench/torch_anchor.py {' '.join(sections)}"
            + (f" (train rows budget {aenv['ANCHOR_TRAIN_BUDGET_S']} s, time limit {alimit} s)" if gpu else ""))
        t0 = time.time()
        try:
            with open(os.path.join(out, "torch_anchor.log"), "w") as lf:
                rc = subprocess.run([sys.executable, anchor_path] + sections, stdout=lf, stderr=subprocess.STDOUT,
                                    env=aenv, timeout=alimit, cwd=out).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        except Terminated:
            rc = "terminated"
        try:
            with open(os.path.join(out, "torch_anchor.json")) as f:
                anchor = json.load(f)
        except (OSError, ValueError):
            anchor = []
        log(f"  anchor: exit {rc}, {len(anchor)} measurements, {time.time() - t0:.1f} s"
            + ("" if anchor else " (no torch here? see torch_anchor.log)"))
        if rc == "terminated":
            raise Terminated()

    # Most important first, so that a time limit costs the least: the engine's whole steps, PyTorch's
    # figures for the same steps and ops, then the per-kernel families (their GPU-filling sizes and
    # TF32 variants come last inside each binary).
    interrupted = False
    try:
        if gpu:
            engine("train_step_gpu", step_bin, ["--no_cpu"], "bench_train_step.gpu", env,
                   "whole training steps (GPU)")
        if not args.no_anchor and gpu:
            run_anchor()
        cpu_filter = "mlp_mnist" if args.quick else "mlp_mnist|dcgan32_mnist"
        engine("train_step_cpu", step_bin, ["--no_gpu", f"--benchmark_filter={cpu_filter}"],
               "bench_train_step.cpu", cpu_env, f"whole training steps (CPU, {args.cpu_threads} threads: {cpu_filter})")
        if not args.no_kernels:
            for b in KERNEL_BINARIES:
                if wanted and b[len("bench_"):] not in wanted:
                    continue
                path = os.path.join(bench_dir, b)
                if not os.path.exists(path):
                    log(f"engine: {b} not built, skipped")
                    continue
                engine(b, path, ["--no_cpu"] if gpu else ["--no_gpu"], b, env if gpu else cpu_env,
                       f"{b} ({'GPU' if gpu else 'CPU'})")
        if not args.no_anchor and not gpu:
            run_anchor()
    except Terminated:
        interrupted = True
        log("bench_compare: terminated (time limit of the caller): reporting what was measured")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the report takes a moment: let it finish

    return report(args, build, out, results, anchor, gpu, t_start, t_engine, interrupted)


if __name__ == "__main__":
    sys.exit(main())
