#!/usr/bin/env python3
"""Loads an sngan32 checkpoint written by `gan train --model sngan32` into PyTorch modules built
with torch.nn.utils.spectral_norm (strict load_state_dict: the names weight_orig, weight_u,
weight_v), runs the first critic step's forward passes in training mode (a power iteration on each
normalised layer, batch statistics in batch norm) and compares them with the engine's, recorded by
`gan trace` on the same checkpoint, batch and noise. Needs torch and safetensors; never part of the
build.

  gan trace --checkpoint C --batch-file x.npy --noise-file z.npy --out T
  python3 scripts/check_torch_spectral_norm.py C --trace T/trace.safetensors --images x.npy --noise z.npy
"""
import argparse
import json

import numpy as np
import torch
from safetensors.numpy import load_file
from safetensors import safe_open


def build(cfg):
    m = cfg["model"]
    nz, ngf, ndf, c = m["nz"], m["ngf"], m["ndf"], m["channels"]
    sn_g = m["spectral_norm"] in ("g", "both")
    sn_d = m["spectral_norm"] in ("d", "both")
    sn = torch.nn.utils.spectral_norm
    g_layers = [torch.nn.Linear(nz, 8 * ngf * 16), torch.nn.Unflatten(1, (8 * ngf, 4, 4)),
                torch.nn.BatchNorm2d(8 * ngf), torch.nn.ReLU()]
    w = 8 * ngf
    for out in (4 * ngf, 2 * ngf, ngf):
        g_layers += [torch.nn.ConvTranspose2d(w, out, 4, 2, 1), torch.nn.BatchNorm2d(out), torch.nn.ReLU()]
        w = out
    g_layers += [torch.nn.Conv2d(w, c, 3, 1, 1), torch.nn.Tanh()]
    d_layers, w = [], c
    for out in (ndf, 2 * ndf, 4 * ndf):
        d_layers += [torch.nn.Conv2d(w, out, 3, 1, 1), torch.nn.LeakyReLU(0.1),
                     torch.nn.Conv2d(out, out, 4, 2, 1), torch.nn.LeakyReLU(0.1)]
        w = out
    d_layers += [torch.nn.Conv2d(w, 8 * ndf, 3, 1, 1), torch.nn.LeakyReLU(0.1), torch.nn.Flatten(),
                 torch.nn.Linear(8 * ndf * 16, 1)]
    wrap = lambda layers, on: [sn(l) if on and isinstance(l, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)) else l
                               for l in layers]
    g = torch.nn.Module()
    g.main = torch.nn.Sequential(*wrap(g_layers, sn_g))
    d = torch.nn.Module()
    d.main = torch.nn.Sequential(*wrap(d_layers, sn_d))
    return g, d


def load(module, tensors, prefix):
    state = {k[len(prefix):]: torch.from_numpy(v.astype(np.float32) if v.dtype != np.int64 else v)
             for k, v in tensors.items() if k.startswith(prefix)}
    missing, unexpected = module.load_state_dict(state, strict=True), None
    return missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--trace", required=True, help="trace.safetensors written by gan trace on CHECKPOINT")
    ap.add_argument("--images", required=True, help="the batch given to gan trace (.npy [N, C, 32, 32])")
    ap.add_argument("--noise", required=True, help="the noise given to gan trace (.npy [N, nz])")
    a = ap.parse_args()
    with safe_open(a.checkpoint, "np") as f:
        cfg = json.loads(f.metadata()["config"])
    tensors = load_file(a.checkpoint)
    trace = load_file(a.trace)
    g, d = build(cfg)
    load(g, tensors, "generator.")
    load(d, tensors, "discriminator.")
    names = sorted(k for k in tensors if k.startswith("discriminator.") and "weight_" in k)
    print(f"loaded {a.checkpoint} into torch spectral_norm modules (strict load_state_dict): "
          f"{len(names)} discriminator SN entries, e.g. {names[0]}")
    g.train(), d.train()
    with torch.no_grad():
        fake = g.main(torch.from_numpy(np.load(a.noise))).numpy()
        d_real = d.main(torch.from_numpy(np.load(a.images))).numpy().reshape(-1)
    last_g = max((k for k in trace if k.startswith("generator.main.") and k.endswith(".out")),
                 key=lambda k: int(k.split(".")[2]))
    last_d = max((k for k in trace if k.startswith("discriminator.real.main.") and k.endswith(".out")),
                 key=lambda k: int(k.split(".")[3]))
    for what, ours, theirs in (("G(z)", trace[last_g], fake), ("D(x)", trace[last_d].reshape(-1), d_real)):
        err = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
        print(f"{what}: relative error engine vs torch {err:.2e} over {theirs.size} values "
              f"(max abs diff {np.abs(ours - theirs).max():.2e})")


if __name__ == "__main__":
    main()
