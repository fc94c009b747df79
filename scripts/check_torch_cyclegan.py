#!/usr/bin/env python3
"""Loads the four networks of a cyclegan checkpoint written by `gan train --recipe cyclegan` into
PyTorch modules laid out as the reference implementation's ResnetGenerator and NLayerDiscriminator
(instance norm without affine parameters, reflection padding, no dropout), with strict
load_state_dict (every name and shape must match), then checks that g_ab and g_ba translate an array
as `gan translate` did. Needs torch and safetensors; never part of the build.

  gan translate --checkpoint C --direction a2b --in x.npy --out y_ab.npy
  gan translate --checkpoint C --direction b2a --in x.npy --out y_ba.npy
  python3 scripts/check_torch_cyclegan.py C --images x.npy --a2b y_ab.npy --b2a y_ba.npy

In the reference code the same state dicts load with
  net = ResnetGenerator(C, C, ngf, norm_layer=functools.partial(nn.InstanceNorm2d, affine=False,
                        track_running_stats=False), use_dropout=False, n_blocks=res_blocks)
  net.load_state_dict({k[len("g_ab."):]: v for k, v in tensors.items() if k.startswith("g_ab.")})
(the reference names g_ab netG_A, g_ba netG_B, d_b netD_A and d_a netD_B).
"""
import argparse
import json

import numpy as np
import torch
from safetensors import safe_open
from torch import nn


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        layers = []
        for half in range(2):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim)]
            if half == 0:
                layers.append(nn.ReLU(True))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


def resnet_generator(c, ngf, blocks):
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(c, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
    for mult in (1, 2):
        layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
    layers += [ResnetBlock(ngf * 4) for _ in range(blocks)]
    for mult in (4, 2):
        layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1),
                   nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, c, 7), nn.Tanh()]
    net = nn.Module()
    net.model = nn.Sequential(*layers)
    net.forward = lambda x: net.model(x)
    return net


def patch_discriminator(c, ndf, n_layers):
    layers = [nn.Conv2d(c, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for i in range(1, n_layers + 1):
        prev, mult = mult, min(2 ** i, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2 if i < n_layers else 1, 1), nn.InstanceNorm2d(ndf * mult),
                   nn.LeakyReLU(0.2, True)]
    layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
    net = nn.Module()
    net.model = nn.Sequential(*layers)
    net.forward = lambda x: net.model(x)
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--images", required=True)
    ap.add_argument("--a2b", required=True)
    ap.add_argument("--b2a", required=True)
    args = ap.parse_args()
    with safe_open(args.checkpoint, "pt") as f:
        cfg = json.loads(f.metadata()["config"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    m = cfg["model"]
    nets = {"g_ab": resnet_generator(m["channels"], m["ngf"], m["res_blocks"]),
            "g_ba": resnet_generator(m["channels"], m["ngf"], m["res_blocks"]),
            "d_a": patch_discriminator(m["channels"], m["ndf"], m["d_layers"]),
            "d_b": patch_discriminator(m["channels"], m["ndf"], m["d_layers"])}
    for name, net in nets.items():
        state = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
        net.load_state_dict(state, strict=True)  # every name and shape must match
        net.eval()
        print(f"{name}: {sum(p.numel() for p in net.parameters())} parameters loaded (strict)")
    x = torch.from_numpy(np.load(args.images)).float()
    worst = 0.0
    with torch.no_grad():
        for name, path in (("g_ab", args.a2b), ("g_ba", args.b2a)):
            ours = torch.from_numpy(np.load(path)).float()
            theirs = nets[name](x)
            err = ((ours - theirs).norm() / theirs.norm()).item()
            worst = max(worst, err)
            print(f"{name}: relative difference to the engine's translation {err:.2e}")
    print("OK" if worst < 1e-4 else "MISMATCH")


if __name__ == "__main__":
    main()
