"""Writes the small fixtures of tests/test_npz.cpp and tests/test_eval_metrics.cpp.

    /work/torchvenv/bin/python tests/data/eval/make_fixtures.py   # numpy + scipy (pytorch-fid optional)

npz_stored.npz / npz_deflated.npz: arrays written by numpy.savez / numpy.savez_compressed, whose
values the C++ test knows by construction (arange), plus a string and an int64 member.

reference.npz: two fixed feature sets and a set of class probabilities, with the scores computed
here independently of the engine: FID by pytorch-fid's formula (scipy.linalg.sqrtm of S1 S2),
KID as the unbiased MMD^2 with the cubic polynomial kernel between the first 150 real and the 150
fake samples (one subset holding every sample, so no random draw is involved), IS by the original code's formula over 10 splits,
and precision/recall with k = 3 by brute-force distances.
"""
import os

import numpy as np
from scipy import linalg

HERE = os.path.dirname(os.path.abspath(__file__))


def fid(mu1, s1, mu2, s2):
    covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def kid_full(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.sum() / (m * n))


def inception_score(p, splits=10):
    scores = []
    per = len(p) // splits
    for s in range(splits):
        part = p[s * per:(s + 1) * per]
        py = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part) - np.log(py))).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return np.mean(scores), np.std(scores)


def precision_recall(real, fake, k=3):
    def radii(x):
        d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def inside(ref, r, q):
        d = np.sqrt(((q[:, None, :] - ref[None, :, :]) ** 2).sum(-1))
        return float((d <= r[None, :]).any(axis=1).mean())

    return inside(real, radii(real), fake), inside(fake, radii(fake), real)


def main():
    a = np.arange(12, dtype=np.float64).reshape(3, 4) * 0.5
    b = np.arange(5, dtype=np.float32) - 2
    extra = dict(name=np.array("digits"), ints=np.arange(3, dtype=np.int64))
    np.savez(os.path.join(HERE, "npz_stored.npz"), a=a, b=b, **extra)
    np.savez_compressed(os.path.join(HERE, "npz_deflated.npz"), a=a, b=b, **extra)

    rng = np.random.default_rng(20261201)
    d = 8
    real = rng.standard_normal((200, d))
    mix = rng.standard_normal((d, d)) * 0.4 + np.eye(d)
    fake = rng.standard_normal((150, d)) @ mix + 0.3
    logits = rng.standard_normal((100, 5)) * 2.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    mu_r, s_r = real.mean(0), np.cov(real, rowvar=False)
    mu_f, s_f = fake.mean(0), np.cov(fake, rowvar=False)
    expected_fid = fid(mu_r, s_r, mu_f, s_f)
    try:  # the published implementation, when installed, must agree
        from pytorch_fid.fid_score import calculate_frechet_distance
        assert abs(calculate_frechet_distance(mu_r, s_r, mu_f, s_f) - expected_fid) < 1e-9
    except ImportError:
        pass
    is_mean, is_std = inception_score(probs)
    prec, rec = precision_recall(real, fake)
    np.savez_compressed(
        os.path.join(HERE, "reference.npz"),
        real=real, fake=fake, probs=probs, mu_real=mu_r, sigma_real=s_r,
        fid=np.float64(expected_fid), kid=np.float64(kid_full(real[:150], fake)),
        is_mean=np.float64(is_mean), is_std=np.float64(is_std),
        precision=np.float64(prec), recall=np.float64(rec))
    print(f"fid {expected_fid:.6f} kid {kid_full(real[:150], fake):.6f} is {is_mean:.4f}+-{is_std:.4f} "
          f"precision {prec:.4f} recall {rec:.4f}")


if __name__ == "__main__":
    main()
