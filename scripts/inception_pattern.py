"""Closed-form weights and images for the InceptionV3 parity test (tests/test_inception.cpp holds
the same formulas in C++). No random numbers: every value is a function of the tensor's position
in the sorted list of weight names (k) and of the element's row-major index (i), so both sides
compute the same network without sharing a file of weights.

  conv / fc weight   sqrt(6 / fan_in) sin(0.37 i + 0.001 i^2 + 0.11 k)
  fc bias            0.01 sin(1.3 i + 0.5 k)
  bn.weight          1 + 0.2 sin(0.7 i + 0.3 k)
  bn.bias            0.01 sin(1.3 i + 0.5 k)
  bn.running_mean    0.01 sin(0.9 i + 0.7 k)
  bn.running_var     1 + 0.5 sin(0.5 i + 0.2 k)^2

Images in [-1, 1] (the engine's range; pytorch-fid is given (v + 1) / 2):
  rgb  [2, 3, 64, 64]  v = 0.9 sin(0.21 x + 0.13 y + 0.7 c + 1.1 n) cos(0.05 (x - y) + 0.3 n)
  gray [1, 1, 37, 53]  v = 0.9 sin(0.17 x - 0.11 y + 0.4) cos(0.07 y)

Why a chirp: with a plain sinusoid sin(a i + b) every weight matrix has rank 2 and the image is
lost after a few layers; with a low-discrepancy sequence every filter sums to almost exactly zero,
so the positive ReLU activations cancel, shrink layer after layer, and float32 rounding grows
to 1e-3. The chirp's rows sum like random ones (He scaling holds: activations keep their size
through the trunk) and float32 stays within about 1e-6 of float64.
"""
import math

import numpy as np


def pattern_value(name, shape, k):
    """The pattern tensor (float64 numpy array) for weight `name` of `shape`, k its sorted position."""
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.float64)
    if name.endswith("conv.weight") or name == "fc.weight":
        fan_in = n // shape[0]
        v = math.sqrt(6.0 / fan_in) * np.sin(0.37 * i + 0.001 * i * i + 0.11 * k)
    elif name.endswith("bn.weight"):
        v = 1.0 + 0.2 * np.sin(0.7 * i + 0.3 * k)
    elif name.endswith("bn.bias") or name == "fc.bias":
        v = 0.01 * np.sin(1.3 * i + 0.5 * k)
    elif name.endswith("bn.running_mean"):
        v = 0.01 * np.sin(0.9 * i + 0.7 * k)
    elif name.endswith("bn.running_var"):
        v = 1.0 + 0.5 * np.sin(0.5 * i + 0.2 * k) ** 2
    else:
        raise ValueError("no pattern for tensor " + name)
    return v.reshape(shape)


def pattern_state_dict(shapes):
    """{name: float64 array} for {name: shape}; num_batches_tracked entries are left out."""
    names = sorted(n for n in shapes if not n.endswith("num_batches_tracked"))
    return {name: pattern_value(name, tuple(shapes[name]), k) for k, name in enumerate(names)}


def rgb_images():
    n, c, y, x = np.meshgrid(np.arange(2), np.arange(3), np.arange(64), np.arange(64), indexing="ij")
    return 0.9 * np.sin(0.21 * x + 0.13 * y + 0.7 * c + 1.1 * n) * np.cos(0.05 * (x - y) + 0.3 * n)


def gray_images():
    n, c, y, x = np.meshgrid(np.arange(1), np.arange(1), np.arange(37), np.arange(53), indexing="ij")
    return 0.9 * np.sin(0.17 * x - 0.11 * y + 0.4) * np.cos(0.07 * y)
