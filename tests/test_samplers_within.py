"""The within-class samplers' maths (``within``, ``within-edit``, ``set-edit``) against NumPy
references; their statistics on a trained run: tests/test_samplers.py."""
import numpy as np
import tensorflow as tf

from augintae_tf.latent import sample_latents, sample_seed_pairs
from augintae_tf.models import latent_stats


def unit(n, d, seed):
    z = np.random.default_rng(seed).normal(size=(n, d))
    return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)


def test_within_class_covariance_matches_per_class_numpy_covariances():
    z = unit(40, 6, 7).astype(np.float64)
    labels = np.array([3] * 12 + [8] * 20 + [1] * 7 + [5])  # class 5: one latent, no scatter
    expected = sum((np.sum(labels == c) - 1) * np.cov(z[labels == c], rowvar=False)
                   for c in (3, 8, 1))
    got = latent_stats.within_class_covariance(z, labels)
    np.testing.assert_allclose(got, expected / (40 - 4), rtol=1e-10, atol=1e-13)
    assert latent_stats.within_class_covariance(z[:3], np.arange(3)) is None


def test_within_samplers_are_unit_deterministic_and_stay_at_zero_scale():
    z, factor = unit(5, 16, 0), np.eye(16, dtype=np.float32) * 0.2
    first = sample_seed_pairs(5, 200, 3)[0]
    for sampler in ("within", "within-edit", "set-edit"):
        out = sample_latents(z, 200, 3, sampler, 1.0, factor).numpy()
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
        np.testing.assert_array_equal(out, sample_latents(z, 200, 3, sampler, 1.0, factor).numpy())
        assert np.abs(out - sample_latents(z, 200, 4, sampler, 1.0, factor).numpy()).max() > 0.1
        np.testing.assert_allclose(sample_latents(z, 200, 3, sampler, 0.0, factor),
                                   tf.gather(z, first), atol=1e-6)


def test_set_noise_has_the_seeds_scatter_mixed_with_the_prior():
    """Without prior noise, set-edit's noise has covariance SET_WEIGHT * S (S: the seeds' sample
    covariance, np.cov); with it, SET_WEIGHT * S + (1 - SET_WEIGHT) * W."""
    from augintae_tf.latent import SET_WEIGHT, set_noise

    seeds = unit(5, 4, 9)
    n = 60_000
    own = set_noise(tf.constant(seeds), tf.zeros([n, 4]), n, 2).numpy().astype(np.float64)
    expected = SET_WEIGHT * np.cov(seeds.astype(np.float64), rowvar=False)
    np.testing.assert_allclose(np.cov(own, rowvar=False), expected, atol=0.03 * np.abs(expected).max())
    prior = np.random.default_rng(1).normal(size=(n, 4)).astype(np.float32) * 0.1
    mixed = set_noise(tf.constant(seeds), tf.constant(prior), n, 2).numpy().astype(np.float64)
    np.testing.assert_allclose(np.cov(mixed, rowvar=False),
                               expected + (1 - SET_WEIGHT) * 0.01 * np.eye(4),
                               atol=0.03 * np.abs(expected).max())
