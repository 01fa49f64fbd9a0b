"""--model vae: config section, KL and interpolation against NumPy, one train step, sampling,
checkpoint round trip."""
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.run import model_state
from augintae_tf.config import ConfigError, load_config
from augintae_tf.models.vae.spec import VAEConfig
from tests.conftest import build_small as built, random_images as images, small_model_config


def vae_config(**fields):
    cfg = small_model_config("vae")
    cfg.model = VAEConfig(name="vae", latent_dim=8, width=0.25, **fields)
    return cfg



def test_section_defaults_and_errors():
    assert load_config("glyphs", {"model.name": "vae"}).model.beta == 1.0
    with pytest.raises(ConfigError, match=r"^model.beta: -1.0 is not allowed; expected a KL weight"):
        load_config("glyphs", {"model.name": "vae", "model.beta": "-1"})


def test_kl_divergence_matches_the_closed_form():
    from augintae_tf.models.vae.model import kl_divergence

    rng = np.random.default_rng(1)
    mu, logvar = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    expected = 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=1)
    np.testing.assert_allclose(kl_divergence(mu, logvar).numpy(), expected, rtol=1e-5)
    assert kl_divergence(np.zeros((1, 4)), np.zeros((1, 4))).numpy()[0] == 0.0


def test_norm_slerp_ends_at_the_means_and_interpolates_the_norm():
    from augintae_tf.models.vae.model import norm_slerp

    a, b = np.array([[3.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
    np.testing.assert_allclose(norm_slerp(a, b, [1.0]).numpy(), a, atol=1e-6)
    np.testing.assert_allclose(norm_slerp(a, b, [0.0]).numpy(), b, atol=1e-6)
    mid = norm_slerp(a, b, [0.5]).numpy()[0]
    # midway on the great circle (45 degrees) with the mean norm 2
    np.testing.assert_allclose(mid, [2 * np.sqrt(0.5), 2 * np.sqrt(0.5), 0.0], atol=1e-5)


def test_loss_matches_a_numpy_reference_and_every_variable_gets_a_gradient():
    from augintae_tf.augment import sub_seed

    model = built(vae_config(beta=0.5))
    x, seed = images(), tf.constant([3, 4], tf.int64)
    with tf.GradientTape() as tape:
        parts = model.losses_of(x, seed)
    grads = tape.gradient(parts["loss"], model.trainable_variables)
    assert all(g is not None and np.isfinite(g.numpy()).all() and np.abs(g.numpy()).sum() > 0
               for g in grads)
    mu, logvar = (t.numpy() for t in model.posterior(x, training=True))
    eps = tf.random.stateless_normal(mu.shape, sub_seed(seed, 4)).numpy()
    decoded = model.decode(mu + np.exp(0.5 * logvar) * eps, training=True).numpy()
    kl = 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=1)
    expected = np.mean(np.sum((decoded - x) ** 2, axis=(1, 2, 3)) + 0.5 * kl)
    np.testing.assert_allclose(parts["loss"].numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(parts["recon"].numpy(), np.mean((decoded - x) ** 2), rtol=1e-4)


def test_one_step_trains_samples_generates_and_round_trips(tmp_path):
    model = built(vae_config())
    before = [v.numpy().copy() for v in model.trainable_variables]
    logs = model.train_step(tf.constant(images(8)))
    assert all(np.isfinite(float(v)) for v in logs.values()) and float(logs["kl_loss"]) >= 0
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables))
    assert model.has("latent") and model.has("fewshot") and model.has("sample")
    sampled = model.sample(5, 3).numpy()
    assert sampled.shape == (5, 12, 12, 1) and np.array_equal(sampled, model.sample(5, 3).numpy())
    assert model.fewshot(tf.constant(images(3)), 6, 1).shape == (6, 12, 12, 1)
    # the reconstruction decodes the posterior mean
    x = images(2)
    np.testing.assert_allclose(model(x).numpy(), model.decode(model.posterior(x)[0]).numpy(),
                               atol=1e-6)

    ckpt = model_state.save(tmp_path, model, 1, {"step": 1})
    fresh = built(vae_config())
    model_state.restore(ckpt, fresh)
    for a, b in zip(model.variables, fresh.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(model.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.optimizer.iterations) == 1
