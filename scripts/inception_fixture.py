#!/usr/bin/env python3
"""Writes tests/fixtures/inception_pattern.safetensors: what pytorch-fid's InceptionV3 computes,
in float64, for the closed-form weights and images of scripts/inception_pattern.py. The engine's
test (tests/test_inception.cpp) builds the same weights and images and compares.

  /path/to/venv/bin/python scripts/inception_fixture.py [--out FILE] [--stats]

The network is pytorch-fid's own InceptionV3 wrapper (output block 3: the 2048-d pool features,
use_fid_inception=True, resize and normalisation on), with its download replaced by the
pattern-filled FID trunk; the logits are the trunk's fc applied to those features. Images go in
as pytorch-fid expects them, in [0, 1]: (v + 1) / 2 for the engine's v in [-1, 1]; the gray
image is repeated to 3 channels. The metadata lists the trunk's state_dict (names and shapes).
--stats prints each block's activation range (the pattern must
neither vanish nor explode through the trunk).
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from inception_pattern import gray_images, rgb_images  # noqa: E402
from inception_weights_to_safetensors import fid_network, fill_pattern  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures", "inception_pattern.safetensors"))
    ap.add_argument("--stats", action="store_true")
    args = ap.parse_args()

    from pytorch_fid import inception as fid
    from safetensors.numpy import save_file

    trunk = fill_pattern(fid_network())
    fid.fid_inception_v3 = lambda: trunk  # the wrapper builds its blocks from this trunk
    model = fid.InceptionV3(output_blocks=[3], use_fid_inception=True).double().eval()
    trunk.double()

    if args.stats:
        for i, block in enumerate(model.blocks):
            block.register_forward_hook(lambda m, inp, out, i=i: print(
                f"block {i}: {tuple(out.shape)} mean {out.mean():.4f} std {out.std():.4f} "
                f"max {out.max():.4f} zero fraction {(out == 0).double().mean():.3f}"))

    out = {}
    for label, v in (("rgb", rgb_images()), ("gray", gray_images())):
        x = torch.from_numpy((v + 1.0) / 2.0)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        with torch.no_grad():
            feats = model(x)[0].flatten(1)
            logits = trunk.fc(feats)
        out[label + ".features"] = feats.numpy().copy()
        out[label + ".logits"] = logits.numpy().copy()
        print(f"{label}: features {tuple(feats.shape)} mean {feats.mean():.4f} std {feats.std():.4f} "
              f"zero fraction {(feats == 0).double().mean():.3f}; logits std {logits.std():.4f}")
    # The state_dict's names and shapes, in its order, so that the engine's test can check its own
    # list of weights against torchvision's.
    names = "\n".join(f"{k} {'x'.join(str(d) for d in v.shape)}" for k, v in trunk.state_dict().items()
                      if not k.endswith("num_batches_tracked"))
    save_file(out, args.out, metadata={"pattern": "scripts/inception_pattern.py", "torch": torch.__version__,
                                       "state_dict": names})
    print("wrote", os.path.normpath(args.out), os.path.getsize(args.out), "bytes")


if __name__ == "__main__":
    main()
