#!/usr/bin/env python3
"""Writes pytorch-fid's FID Inception weights as a safetensors file the engine loads
(`gan eval --features inception:FILE`, models/eval/inception.h), with torchvision's state_dict
names (Conv2d_1a_3x3.conv.weight, ..., fc.weight, fc.bias) and float32 data.

  python3 scripts/inception_weights_to_safetensors.py OUT.safetensors            # pytorch-fid's URL
  python3 scripts/inception_weights_to_safetensors.py OUT.safetensors --pth pt_inception-2015-12-05-6726825d.pth
  python3 scripts/inception_weights_to_safetensors.py OUT.safetensors --pattern  # no download: the
                                                         closed-form test weights (inception_pattern.py)

Without --pth the weights come from pytorch-fid's release URL through torch's hub cache
(~/.cache/torch/hub/checkpoints; a file already there is not downloaded again). Before writing,
the weights are loaded strictly into pytorch-fid's FID network, so a file with wrong names or
shapes stops here. Needs torch, torchvision, pytorch-fid and safetensors (pip install pytorch-fid
safetensors); the engine's build never does.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def fid_network():
    """pytorch-fid's FID InceptionV3 trunk (fid_inception_v3's structure), weights not loaded."""
    from pytorch_fid import inception as fid

    net = fid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fid.FIDInceptionE_1(1280)
    net.Mixed_7c = fid.FIDInceptionE_2(2048)
    return net.eval()


def fill_pattern(net):
    """Overwrites every weight and buffer of `net` with the closed-form test pattern."""
    from inception_pattern import pattern_state_dict

    sd = net.state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    values = pattern_state_dict(shapes)
    with torch.no_grad():
        for name, v in values.items():
            sd[name].copy_(torch.from_numpy(v))
    return net


def load_weights(pth):
    if pth:
        return torch.load(pth, map_location="cpu")
    from pytorch_fid.inception import FID_WEIGHTS_URL
    return torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, map_location="cpu", progress=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="safetensors file to write")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--pth", help="a local pt_inception-2015-12-05-*.pth (pytorch-fid's weights)")
    src.add_argument("--pattern", action="store_true", help="write the closed-form test weights instead")
    args = ap.parse_args()

    from safetensors.torch import save_file

    net = fid_network()
    if args.pattern:
        fill_pattern(net)
        source = "closed-form test pattern (scripts/inception_pattern.py)"
    else:
        # strict: every name of the FID network present, nothing else, shapes equal.
        net.load_state_dict(load_weights(args.pth), strict=True)
        source = args.pth or "pytorch-fid FID_WEIGHTS_URL"
    tensors = {name: t.detach().to(torch.float32).contiguous()
               for name, t in net.state_dict().items() if not name.endswith("num_batches_tracked")}
    save_file(tensors, args.out, metadata={"format": "pytorch-fid-inception-v3", "source": source})
    print(f"wrote {len(tensors)} tensors ({sum(t.numel() for t in tensors.values())} values) to {args.out}")


if __name__ == "__main__":
    main()
