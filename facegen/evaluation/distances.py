"""Distances between two feature sets: Fréchet distance of fitted Gaussians and KID (unbiased polynomial MMD).

FD = ||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2)). The last trace is the sum of square roots of
the eigenvalues of S_a S_b, which are those of the symmetric PSD matrix F S_b F^T for any F with S_a = F^T F
(eigenvalues of XY and YX agree), found with symmetric eigensolvers. When a set has fewer samples than
dimensions, F is its scaled centred features and the matrix only N x N: 0.5 s instead of 22 s for 1,000
Inception features against torch-fidelity's general ``eigvals(S_a S_b)`` (1.3x faster at full rank).
Tests check it against torch-fidelity and scipy.linalg.sqrtm.
KID is torch-fidelity's own function: MMD-GAN's unbiased MMD^2, cubic polynomial kernel, random subsets.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def gaussian_statistics(features: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
    """Mean and unbiased covariance of features [N, D] in float64; with N <= D also ``factor`` (F^T F = sigma)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need features [N >= 2, D], got shape {x.shape}")
    mu = x.mean(axis=0)
    factor = (x - mu) / np.sqrt(len(x) - 1)
    stats = {"mu": mu, "sigma": factor.T @ factor}
    if len(x) <= x.shape[1]:
        stats["factor"] = factor
    return stats


def _trace_sqrt_product(stats_a: dict[str, np.ndarray], stats_b: dict[str, np.ndarray]) -> float:
    """Tr((S_a S_b)^(1/2)) via the eigenvalues of F S_b F^T, with F the smaller available factor of S_a or S_b."""
    if "factor" not in stats_a and "factor" in stats_b:
        stats_a, stats_b = stats_b, stats_a  # S_a S_b and S_b S_a have the same eigenvalues
    factor = stats_a.get("factor")
    if factor is None:  # the symmetric square root is a factor too
        eigenvalues, vectors = scipy.linalg.eigh(stats_a["sigma"])
        factor = (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T
    product = factor @ np.asarray(stats_b["sigma"], dtype=np.float64) @ factor.T
    product = (product + product.T) / 2.0  # exact symmetry for the symmetric solver
    return float(np.sqrt(np.clip(scipy.linalg.eigvalsh(product), 0.0, None)).sum())


def frechet_distance(stats_a: dict[str, np.ndarray], stats_b: dict[str, np.ndarray]) -> float:
    """Fréchet distance between Gaussians given as ``{"mu", "sigma"}`` (``factor`` optional, see module doc)."""
    mu_a, mu_b = np.asarray(stats_a["mu"], np.float64), np.asarray(stats_b["mu"], np.float64)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"feature sizes differ: {mu_a.shape} vs {mu_b.shape}")
    traces = np.trace(stats_a["sigma"]) + np.trace(stats_b["sigma"])
    return float(np.sum((mu_a - mu_b) ** 2) + traces - 2.0 * _trace_sqrt_product(stats_a, stats_b))


def effective_subset_size(num_a: int, num_b: int, subset_size: int = KID_SUBSET_SIZE) -> int:
    """The KID subset size actually used: at most the smaller set (torch-fidelity refuses larger subsets)."""
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
    size = effective_subset_size(len(a), len(b), subset_size)
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
