"""Fréchet distance and KID on features with known answers."""

import numpy as np
import pytest
import scipy.linalg
import torch

from facegen.evaluation.distances import frechet_distance, gaussian_statistics, kernel_distance


def test_frechet_distance_of_diagonal_gaussians_matches_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    s1, s2 = rng.uniform(0.5, 2.0, 16), rng.uniform(0.5, 2.0, 16)
    fd = frechet_distance({"mu": mu1, "sigma": np.diag(s1**2)}, {"mu": mu2, "sigma": np.diag(s2**2)})
    assert fd == pytest.approx(np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2), rel=1e-9)


def test_frechet_distance_of_full_covariances_matches_sqrtm_formula():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    sigma1, sigma2 = a @ a.T + np.eye(8), b @ b.T + np.eye(8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2 * scipy.linalg.sqrtm(sigma1 @ sigma2).real)
    assert frechet_distance({"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2}) == pytest.approx(expected)


def test_frechet_distance_agrees_with_torch_fidelity_with_and_without_the_low_rank_factor():
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    rng = np.random.default_rng(5)
    few, many = rng.normal(size=(20, 64)), rng.normal(size=(300, 64)) * 1.5 + 0.2
    stats_few, stats_many = gaussian_statistics(few), gaussian_statistics(many)
    assert "factor" in stats_few and "factor" not in stats_many  # 20 samples in 64 dims: low rank
    plain = {key: stats_few[key] for key in ("mu", "sigma")}
    library = fid_statistics_to_metric(plain, stats_many, verbose=False)["frechet_inception_distance"]
    assert frechet_distance(stats_few, stats_many) == pytest.approx(library, rel=1e-7)
    assert frechet_distance(stats_many, stats_few) == pytest.approx(library, rel=1e-7)
    assert frechet_distance(plain, stats_many) == pytest.approx(library, rel=1e-7)


def test_frechet_distance_of_a_sample_with_itself_is_zero_and_grows_with_a_shift():
    features = np.random.default_rng(2).normal(size=(500, 32))
    stats = gaussian_statistics(features)
    assert abs(frechet_distance(stats, stats)) < 1e-8
    shifted = gaussian_statistics(features + 1.0)  # same covariance, mean moved by 1 in each of 32 dims
    assert frechet_distance(stats, shifted) == pytest.approx(32.0, rel=1e-6)


def test_kid_is_about_zero_for_one_distribution_and_large_for_two():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    same_mean, same_std = kernel_distance(a, b, subsets=20, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3  # unbiased: no positive offset at equal distributions
    apart_mean, _ = kernel_distance(a, b + 1.0, subsets=20, subset_size=200)
    assert apart_mean > 20 * abs(same_mean) and apart_mean > 0.1


def test_kid_is_deterministic_for_a_seed_and_caps_its_subset_size():
    rng = np.random.default_rng(4)
    a, b = torch.from_numpy(rng.normal(size=(50, 8))), torch.from_numpy(rng.normal(size=(30, 8)) + 0.5)
    first = kernel_distance(a, b, subsets=10, subset_size=1000, seed=7)  # subsets of 30, the smaller set
    assert first == kernel_distance(a, b, subsets=10, subset_size=1000, seed=7)
    assert first != kernel_distance(a, b, subsets=10, subset_size=1000, seed=8)


def test_gaussian_statistics_rejects_bad_shapes():
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_statistics(np.zeros((1, 4)))
