"""Distances between two feature sets: Fréchet distance of fitted Gaussians and KID (unbiased polynomial MMD).

The arithmetic is torch-fidelity's (eigenvalue-based trace of the matrix square root; MMD-GAN's unbiased
MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 over random subsets), so FD/KID here match
the library's FID/KID exactly when given the same features.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def gaussian_statistics(features: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
    """Mean and (unbiased) covariance of features [N, D], in float64 so the square root stays accurate."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need features [N >= 2, D], got shape {features.shape}")
    return {"mu": features.mean(axis=0), "sigma": np.cov(features, rowvar=False)}


def frechet_distance(stats_a: dict[str, np.ndarray], stats_b: dict[str, np.ndarray]) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))."""
    as64 = {key: np.asarray(value, dtype=np.float64) for key, value in stats_a.items()}
    bs64 = {key: np.asarray(value, dtype=np.float64) for key, value in stats_b.items()}
    return float(fid_statistics_to_metric(as64, bs64, verbose=False)[KEY_METRIC_FID])


def kid_subset_size(num_a: int, num_b: int, subset_size: int = KID_SUBSET_SIZE) -> int:
    """The subset size actually used: at most the smaller set (torch-fidelity refuses larger subsets)."""
    return min(subset_size, num_a, num_b)


def kernel_distance(
    features_a: torch.Tensor | np.ndarray,
    features_b: torch.Tensor | np.ndarray,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: mean and std over ``subsets`` random subsets of the unbiased MMD^2 estimate (≈0 for one distribution)."""
    a = torch.as_tensor(np.asarray(features_a, dtype=np.float64))
    b = torch.as_tensor(np.asarray(features_b, dtype=np.float64))
    size = kid_subset_size(len(a), len(b), subset_size)
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {len(a)} and {len(b)}")
    out = kid_features_to_metric(
        a,
        b,
        kid_subsets=subsets,
        kid_subset_size=size,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
        rng_seed=seed,
        verbose=False,
    )
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])
