"""Latent utilities against a float64 NumPy reference, including the degenerate slerp cases."""
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.latent import l2_normalize, sample_alpha, slerp


def reference_slerp(z1, z2, alpha):
    """Textbook slerp in float64 with alpha weighting z1 (alpha=1 -> z1)."""
    z1, z2 = np.float64(z1), np.float64(z2)
    alpha = np.reshape(np.float64(alpha), (-1, 1)) if np.ndim(alpha) else np.float64(alpha)
    omega = np.arccos(np.clip(np.sum(z1 * z2, -1, keepdims=True), -1, 1))
    out = (np.sin(alpha * omega) * z1 + np.sin((1 - alpha) * omega) * z2) / np.sin(omega)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def unit(rng, shape):
    z = rng.normal(size=shape)
    return z / np.linalg.norm(z, axis=-1, keepdims=True)


def test_l2_normalize_unit_norm_and_zero_vector():
    z = tf.constant([[3.0, 4.0], [0.0, 0.0]])
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = l2_normalize(z)
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8], [0.0, 0.0]], atol=1e-7)
    assert np.all(np.isfinite(tape.gradient(out, z).numpy()))


@pytest.mark.parametrize("alpha_shape", ["vector", "column", "scalar"])
def test_slerp_matches_float64_reference(alpha_shape):
    rng = np.random.default_rng(0)
    z1, z2 = unit(rng, (16, 8)), unit(rng, (16, 8))
    alpha = rng.uniform(size=16)
    given = {"vector": alpha, "column": alpha[:, None], "scalar": 0.3}[alpha_shape]
    expected = reference_slerp(z1, z2, given if alpha_shape != "column" else alpha)
    out = slerp(tf.constant(z1, tf.float32), tf.constant(z2, tf.float32), given).numpy()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-6)


def test_slerp_endpoints_weight_the_first_argument():
    rng = np.random.default_rng(1)
    z1, z2 = (tf.constant(unit(rng, (4, 8)), tf.float32) for _ in range(2))
    np.testing.assert_allclose(slerp(z1, z2, 1.0).numpy(), z1.numpy(), atol=1e-6)
    np.testing.assert_allclose(slerp(z1, z2, 0.0).numpy(), z2.numpy(), atol=1e-6)


@pytest.mark.parametrize("case", ["parallel", "antiparallel", "nearly_parallel"])
def test_slerp_degenerate_pairs_have_finite_values_and_gradients(case):
    rng = np.random.default_rng(2)
    z1 = unit(rng, (4, 8))
    z2 = {"parallel": z1, "antiparallel": -z1,
          "nearly_parallel": z1 + 1e-5 * rng.normal(size=z1.shape)}[case]
    z1, z2 = tf.constant(z1, tf.float32), tf.constant(l2_normalize(z2).numpy())
    alpha = tf.constant([0.0, 0.3, 0.5, 1.0])
    with tf.GradientTape() as tape:
        tape.watch([z1, z2, alpha])
        out = slerp(z1, z2, alpha)
        total = tf.reduce_sum(out * tf.constant(rng.normal(size=(4, 8)), tf.float32))
    grads = tape.gradient(total, [z1, z2, alpha])
    assert np.all(np.isfinite(out.numpy()))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    if case == "parallel":
        np.testing.assert_allclose(out.numpy(), z1.numpy(), atol=1e-6)
    if case == "antiparallel":  # the blend is 0 at alpha=0.5: no great circle is preferred
        np.testing.assert_allclose(np.linalg.norm(out.numpy()[[0, 1, 3]], axis=-1), 1.0, atol=1e-6)
    else:
        np.testing.assert_allclose(np.linalg.norm(out.numpy(), axis=-1), 1.0, atol=1e-6)


def test_sample_alpha_is_the_mean_of_two_uniforms():
    seed = tf.constant([3, 4], tf.int64)
    alpha = sample_alpha(seed, [20000]).numpy()
    assert alpha.shape == (20000,) and alpha.min() >= 0.0 and alpha.max() <= 1.0
    # Triangular on [0, 1]: mean 1/2, variance (1/12)/2 = 1/24 (a single uniform would give 1/12).
    assert abs(alpha.mean() - 0.5) < 0.01
    assert abs(alpha.var() - 1 / 24) < 0.003
    np.testing.assert_array_equal(alpha, sample_alpha(seed, [20000]).numpy())
    assert not np.allclose(alpha, sample_alpha(tf.constant([3, 5], tf.int64), [20000]).numpy())
