"""Fréchet distance: agreement with pytorch-fid's scipy.linalg.sqrtm formula, and its invariants."""
import numpy as np
import pytest
from scipy import linalg

from augintae_tf.metrics.frechet import (activation_statistics, frechet_distance,
                                         frechet_distance_from_activations)


def pytorch_fid_distance(a, b):
    """pytorch-fid's calculate_frechet_distance (general sqrtm of the product, real part)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


@pytest.mark.parametrize("n, d, seed", [(400, 16, 0), (300, 64, 1), (1000, 128, 2), (60, 40, 3)])
def test_matches_scipy_sqrtm_route(n, d, seed):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)  # correlated features, like real activations
    a = rng.normal(size=(n, d)) @ mixing
    b = (rng.normal(size=(n + 7, d)) * 1.3 + 0.2) @ mixing
    ours, reference = frechet_distance_from_activations(a, b), pytorch_fid_distance(a, b)
    assert ours == pytest.approx(reference, rel=1e-6)


def test_statistics_are_float64_and_unbiased():
    acts = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    mu, sigma = activation_statistics(acts)
    assert mu.dtype == sigma.dtype == np.float64
    centred = acts.astype(np.float64) - acts.mean(0, dtype=np.float64)
    np.testing.assert_allclose(sigma, centred.T @ centred / (len(acts) - 1), rtol=1e-12)


def test_identical_sets_give_zero():
    a = np.random.default_rng(0).normal(size=(500, 64)) * 3.0
    scale = np.trace(np.cov(a, rowvar=False))
    assert abs(frechet_distance_from_activations(a, a)) < 1e-8 * scale


def test_symmetric():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200, 32)), rng.gamma(2.0, size=(300, 32))
    assert frechet_distance_from_activations(a, b) == pytest.approx(frechet_distance_from_activations(b, a),
                                                                    rel=1e-10)


def test_translating_the_mean_adds_its_squared_norm():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=24), rng.normal(size=24)
    x, y = rng.normal(size=(100, 24)), rng.normal(size=(100, 24))
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    delta = rng.normal(size=24)
    base = frechet_distance(mu1, s1, mu2, s2)
    assert frechet_distance(mu1 + delta, s1, mu2, s2) - base == pytest.approx(
        np.sum((mu1 + delta - mu2) ** 2) - np.sum((mu1 - mu2) ** 2), rel=1e-9)
    assert frechet_distance(mu1 + delta, s1, mu1, s1) == pytest.approx(delta @ delta, rel=1e-9)


def test_one_dimensional_gaussians_closed_form():
    # d^2 = (m1 - m2)^2 + (s1 - s2)^2 for scalar Gaussians with standard deviations s1, s2.
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)


def test_shape_errors():
    with pytest.raises(ValueError, match="different shapes"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match=r"\[N, F\]"):
        activation_statistics(np.zeros(5))
    with pytest.raises(ValueError, match="at least 2"):
        activation_statistics(np.zeros((1, 5)))


@pytest.mark.parametrize("n, d, seed", [(400, 16, 0), (60, 40, 3)])
def test_terms_add_up_to_the_distance_and_match_the_scipy_route(n, d, seed):
    from augintae_tf.metrics.frechet import frechet_terms

    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    a = rng.normal(size=(n, d)) @ mixing
    b = (rng.normal(size=(n + 7, d)) * 1.3 + 0.2) @ mixing
    terms = frechet_terms(a, b)
    diff = a.mean(0) - b.mean(0)
    assert terms["mean"] == pytest.approx(diff @ diff, rel=1e-12)
    assert terms["covariance"] == pytest.approx(pytorch_fid_distance(a, b) - diff @ diff, rel=1e-6)
    assert terms["mean"] + terms["covariance"] == pytest.approx(
        frechet_distance_from_activations(a, b), rel=1e-12)
    shifted = frechet_terms(a + 5.0, b)  # a shift moves only the mean term
    assert shifted["covariance"] == pytest.approx(terms["covariance"], rel=1e-9)
    assert shifted["mean"] > terms["mean"] + 100


def test_class_spread_is_the_law_of_total_variance():
    from augintae_tf.metrics.frechet import class_spread

    rng = np.random.default_rng(0)
    labels = np.repeat([3, 7, 9], [20, 50, 30])
    centres = {3: np.zeros(5), 7: np.full(5, 2.0), 9: np.arange(5.0)}
    acts = np.stack([centres[c] + rng.normal(size=5) * 0.5 for c in labels])
    spread = class_spread(acts, labels)
    total = np.trace(np.cov(acts, rowvar=False, ddof=0))
    assert spread["within"] + spread["between"] == pytest.approx(total, rel=1e-12)
    # the between part by hand: class shares times squared distances of class means to the mean
    mean = acts.mean(0)
    by_hand = sum((labels == c).mean() * np.sum((acts[labels == c].mean(0) - mean) ** 2)
                  for c in (3, 7, 9))
    assert spread["between"] == pytest.approx(by_hand, rel=1e-12)
    assert class_spread(acts, np.zeros(len(acts)))["between"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"\[N, F\] with N labels"):
        class_spread(acts, labels[:-1])
