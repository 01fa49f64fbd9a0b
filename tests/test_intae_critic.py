"""intae under ``model.target: critic`` (ACAI): losses against NumPy, one step, a short run."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.latent import slerp
from augintae_tf.models import build_model
from augintae_tf.models.contract import derive_seed
from augintae_tf.models.intae.model import autoencoder_loss, critic_alphas, critic_losses
from conftest import blobs, run_python, small_model_config

BATCH = 8


def critic_model(lr=1e-3, **overrides):
    cfg = small_model_config("intae")
    model = build_model(cfg, width=0.25)
    for key, value in overrides.items():
        setattr(model.setup.section, key, value)
    model.compile(optimizer=keras.optimizers.Adam(lr), critic_optimizer=keras.optimizers.Adam(lr),
                  jit_compile=False)
    model.build_for_training()
    return model


def test_critic_losses_match_numpy():
    rng = np.random.default_rng(0)
    mix, real = rng.normal(size=(6, 1)), rng.normal(size=(6, 1))
    alpha = rng.uniform(0, 0.5, 6)
    critic, fool = critic_losses(mix, alpha, real)
    np.testing.assert_allclose(critic.numpy(), np.mean((mix[:, 0] - alpha) ** 2)
                               + np.mean(real[:, 0] ** 2), rtol=1e-6)
    np.testing.assert_allclose(fool.numpy(), np.mean(mix[:, 0] ** 2), rtol=1e-6)
    np.testing.assert_allclose(autoencoder_loss(0.3, fool, 0.5).numpy(),
                               0.3 + 0.5 * np.mean(mix[:, 0] ** 2), rtol=1e-6)


def test_critic_alphas_are_uniform_on_0_half():
    alpha = critic_alphas(tf.constant([1, 2], tf.int64), 20000).numpy()
    assert alpha.min() >= 0.0 and alpha.max() <= 0.5
    counts = np.histogram(alpha, bins=5, range=(0, 0.5))[0] / len(alpha)
    np.testing.assert_allclose(counts, 0.2, atol=0.015)  # flat, unlike the triangular mean of two


def test_critic_batch_is_acai_on_slerped_partners():
    model = critic_model()
    x = tf.constant(blobs(BATCH, 12))
    seed = derive_seed(0, 2, 0)
    out = model.critic_batch(x, seed)
    views = model.augment(x, seed, 1)
    np.testing.assert_array_equal(out["views"].numpy(), views.numpy())
    z = model.encode(views, training=True)
    offset = model.partners(x, seed)
    mix = model.decode(slerp(z, tf.roll(z, offset, axis=0), out["alpha"]), training=True)
    np.testing.assert_allclose(out["mix"].numpy(), mix.numpy(), atol=1e-5)
    gamma, weight = 0.2, 0.5  # ACAI's defaults
    near_real = gamma * views.numpy() + (1 - gamma) * out["reconstruction"].numpy()
    scores = model.critic(np.concatenate([out["mix"].numpy(), near_real]), training=True).numpy()
    mix_s, real_s, a = scores[:BATCH, 0], scores[BATCH:, 0], out["alpha"].numpy()
    np.testing.assert_allclose(out["mix_scores"].numpy()[:, 0], mix_s, atol=1e-5)
    critic = np.mean((mix_s - a) ** 2) + np.mean(real_s ** 2)
    recon = np.mean((out["reconstruction"].numpy() - views.numpy()) ** 2)  # l2, the default
    np.testing.assert_allclose(out["critic_loss"].numpy(), critic, rtol=1e-4)
    np.testing.assert_allclose(out["ae_loss"].numpy(), recon + weight * np.mean(mix_s ** 2),
                               rtol=1e-4)


def test_one_step_moves_all_three_networks_and_both_optimizers():
    model = critic_model()
    nets = (model.encoder, model.generator, model.critic)
    before = [[w.numpy().copy() for w in net.trainable_weights] for net in nets]
    logs = model.fit(blobs(BATCH, 12), batch_size=BATCH, epochs=1, verbose=0).history
    assert set(logs) == {"loss", "recon_loss", "critic_loss", "critic_fool_loss"}, logs
    assert logs["loss"] == logs["recon_loss"] and all(np.isfinite(v[0]) for v in logs.values())
    for net, old in zip(nets, before):
        assert any(not np.array_equal(o, w.numpy()) for o, w in zip(old, net.trainable_weights))
    assert int(model.optimizer.iterations.numpy()) == 1
    assert int(model.critic_optimizer.iterations.numpy()) == 1
    assert set(model.serving_networks()) == {"encoder", "generator"}  # the critic is not served
    assert set(model.networks()) == {"encoder", "generator", "critic"}


def test_compile_needs_the_critic_optimizer():
    model = build_model(small_model_config("intae"), width=0.25)
    with pytest.raises(ValueError, match="compile\\(\\) needs critic_optimizer as an optimizer"):
        model.compile(optimizer=keras.optimizers.Adam(1e-3))


def test_critic_starts_at_zero_for_every_image():
    """zero_output_layer: C(x) = 0 before training, so the autoencoder's critic term starts at 0
    (a random output layer ran away and saturated the generator on glyphs)."""
    model = critic_model()
    scores = model.critic(np.random.default_rng(0).uniform(size=(BATCH, 12, 12, 1)), training=False)
    np.testing.assert_array_equal(np.asarray(scores), np.zeros((BATCH, 1), np.float32))


def test_short_run_critic_and_reconstruction_losses_go_down():
    keras.utils.set_random_seed(0)
    model = critic_model(lr=2e-3)
    history = model.fit(blobs(64, 12), batch_size=BATCH, epochs=6, verbose=0,
                        shuffle=False).history
    critic, recon = history["critic_loss"], history["recon_loss"]
    # It starts at C = 0, whose loss is E[alpha^2] = 1/12 for alpha ~ U[0, 0.5]; a critic that
    # learnt to read alpha off the interpolations does better, while the autoencoder fights it.
    assert all(np.isfinite(critic)) and critic[-1] < 0.8 / 12, critic
    assert recon[-1] < 0.7 * recon[0], recon  # the critic term must not stall reconstruction


def test_checkpoint_round_trip_restores_the_critic_and_both_optimizers(tmp_path):
    from augintae_tf.run import model_state

    model = critic_model()
    model.fit(blobs(BATCH, 12), batch_size=BATCH, epochs=1, verbose=0)
    path = model_state.save(tmp_path, model, epoch=1, state={"step": 1})
    fresh = critic_model()
    model_state.restore(path, fresh)
    for a, b in zip(model.critic.weights, fresh.critic.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.critic_optimizer.iterations.numpy()) == 1


MIRRORED = """
import keras, numpy as np, tensorflow as tf
from augintae_tf.distribute import make_strategy
from augintae_tf.models import build_model
from conftest import small_model_config
strategy = make_strategy("mirrored")
assert strategy.num_replicas_in_sync == 2
with strategy.scope():
    model = build_model(small_model_config("intae"), width=0.25)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  critic_optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    model.build_for_training()
x = np.random.default_rng(0).uniform(size=(16, 12, 12, 1)).astype("float32")
logs = model.fit(x, batch_size=8, epochs=1, verbose=0).history
assert all(np.isfinite(v[0]) for v in logs.values()), logs
assert int(model.optimizer.iterations.numpy()) == 2 == int(model.critic_optimizer.iterations.numpy())
copies = [v.value.values for v in model.critic.trainable_weights]
assert all(np.array_equal(c[0].numpy(), c[1].numpy()) for c in copies)  # replicas agree
print("OK")
"""


def test_mirrored_strategy_trains_the_critic_on_two_replicas():
    import os

    tests = os.path.dirname(__file__)
    result = run_python(f"import sys; sys.path.insert(0, {tests!r})\n" + MIRRORED,
                        env={"AUGINTAE_CPU_DEVICES": "2"})
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]
