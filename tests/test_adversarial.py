"""augintae-adv: LSGAN discriminator, per-image gamma rescaling, the dynamic k, two optimizers."""
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.run import checkpoints, model_state
from augintae_tf.models import build_model
from augintae_tf.models.contract import derive_seed
from augintae_tf.models.adversarial.model import (AdversarialAugIntAE, lsgan_losses,
                                            rescale_adversarial, update_k)
from augintae_tf.models.augintae.model import AugIntAE
from augintae_tf.models.losses import pixel_mse
from conftest import run_python, small_model_config

SIZE, WIDTH, BATCH = 12, 0.25, 8
LOG_KEYS = {"recon_loss", "adv_loss", "d_loss", "d_real", "d_fake", "gamma", "adv_k", "loss"}


def tiny_model(compiled=True, dtype="float32", **compile_kwargs):
    model = build_model(small_model_config("augintae-adv"), width=WIDTH, dtype=dtype)
    if compiled:
        model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), **compile_kwargs)
    return model


def images(n=BATCH, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, SIZE, SIZE, 1)).astype("float32")


# --- the k rule ------------------------------------------------------------------------------
def test_update_k_follows_the_separation_of_the_scores_and_stays_in_0_1():
    k = 1.0
    for _ in range(300):  # separation 0.5 < 1: k falls by 0.001 * 0.5 per update
        k = float(update_k(k, 0.7, 0.2))
    assert k == pytest.approx(1.0 - 300 * 0.0005, abs=1e-5)
    for _ in range(500):  # separation 1.5 > 1: k rises by 0.0005 per update, up to 1
        k = float(update_k(k, 1.0, -0.5))
    assert k == 1.0
    assert float(update_k(1.0, 0.5, -0.5)) == 1.0  # separation exactly 1: unchanged
    assert float(update_k(0.0003, 0.0, 0.0)) == 0.0  # clipped below at 0
    assert float(update_k(0.0, 0.2, 0.1)) == 0.0
    assert float(update_k(0.5, 0.9, 0.1, rate=0.01)) == pytest.approx(0.5 - 0.01 * 0.2)


def test_lsgan_losses():
    real, fake = tf.constant([[1.0], [0.0]]), tf.constant([[0.0], [1.0]])
    d_loss, g_loss = lsgan_losses(real, fake)
    assert float(d_loss) == pytest.approx(0.5 * (0.5 + 0.5))
    assert float(g_loss) == pytest.approx(0.5 * 0.5)


# --- gamma -----------------------------------------------------------------------------------
def test_rescale_adversarial_is_per_image_and_guards_zero_adversarial_gradients():
    rng = np.random.default_rng(1)
    recon = rng.normal(size=(4, 3, 3, 2)).astype("float32")
    scales = np.array([1, 10, 1e-3, 0], "float32")[:, None, None, None]  # the last: no adv grad
    adv = (rng.normal(size=(4, 3, 3, 2)) * scales).astype("float32")
    combined, gamma = rescale_adversarial(tf.constant(recon), tf.constant(adv), 0.3)
    for i in range(4):
        g = 0.0 if i == 3 else np.linalg.norm(recon[i]) / np.linalg.norm(adv[i])
        assert gamma.numpy()[i] == pytest.approx(g, rel=1e-5)
        np.testing.assert_allclose(combined.numpy()[i], recon[i] + 0.3 * g * adv[i], rtol=1e-5,
                                   atol=1e-6)
        if i < 3:  # the rescaled adversarial part is as long as the reconstruction gradient
            assert np.linalg.norm(combined.numpy()[i] - recon[i]) == pytest.approx(
                0.3 * np.linalg.norm(recon[i]), rel=1e-5)
    assert np.all(np.isfinite(combined.numpy()))
    np.testing.assert_array_equal(combined.numpy()[3], recon[3])


def test_combined_gradient_equals_per_image_rescaling_from_per_image_tapes():
    model = tiny_model()
    model.adv_k.assign(0.7)
    x, seed = tf.constant(images()), derive_seed(0, 3, 0)
    step = model.compute_gradients(x, seed)
    fake, target = step["fake"], step["target"]
    for i in range(BATCH):  # one tape per image: the gradients with respect to image i only
        image = tf.constant(fake[i:i + 1])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(image)
            batch = tf.concat([fake[:i], image, fake[i + 1:]], axis=0)
            recon = pixel_mse(batch, target)
            _, adv = lsgan_losses(*model.discriminator_scores(target, batch, training=True))
        recon_grad = tape.gradient(recon, image).numpy()[0]
        adv_grad = tape.gradient(adv, image).numpy()[0]
        gamma = np.linalg.norm(recon_grad) / np.linalg.norm(adv_grad)
        assert step["gamma"].numpy()[i] == pytest.approx(gamma, rel=1e-4)
        np.testing.assert_allclose(step["output_gradient"].numpy()[i],
                                   recon_grad + 0.7 * gamma * adv_grad, rtol=1e-4, atol=1e-8)


def test_with_k_zero_the_generator_update_is_the_augintae_update():
    model = tiny_model()
    x, seed = tf.constant(images(seed=2)), derive_seed(0, 7, 0)
    # The same networks (same weights) in a plain AugIntAE, with the same seed.
    plain = AugIntAE(model.encoder, model.generator, model.setup)
    with tf.GradientTape() as tape:
        prediction, target = plain.training_batch(x, seed)
        loss = pixel_mse(prediction, target)
    expected = tape.gradient(loss, model.generator_variables)

    model.adv_k.assign(0.0)
    got = model.compute_gradients(x, seed)["generator_gradients"]
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-4, atol=1e-7)

    model.adv_k.assign(1.0)  # and the adversarial term does change it
    got = model.compute_gradients(x, seed)["generator_gradients"]
    assert any(not np.allclose(g.numpy(), e.numpy(), rtol=1e-3, atol=1e-6)
               for e, g in zip(expected, got))


# --- training --------------------------------------------------------------------------------
@pytest.mark.parametrize("jit", [False, True])
def test_one_epoch_trains_all_three_networks_and_updates_k(jit):
    model = tiny_model(jit_compile=jit)
    model.adv_k.assign(0.5)  # k moves either way from 0.5 (from 1 it could stay clipped)
    nets = (model.encoder, model.generator, model.discriminator)
    before = [[w.numpy().copy() for w in net.trainable_weights] for net in nets]
    history = model.fit(images(), batch_size=BATCH, epochs=1, verbose=0, shuffle=False).history
    logs = {key: values[0] for key, values in history.items()}
    assert set(logs) == LOG_KEYS and all(np.isfinite(v) for v in logs.values()), logs
    assert logs["loss"] == logs["recon_loss"] and logs["gamma"] > 0
    # One step: the logged means are that step's mean scores, and k moved by eq. 4.
    k = float(model.adv_k.numpy())
    assert k != 0.5 and logs["adv_k"] == pytest.approx(k)
    assert k == pytest.approx(float(update_k(0.5, logs["d_real"], logs["d_fake"])), abs=1e-6)
    for net, old in zip(nets, before):
        assert any(not np.array_equal(o, w.numpy()) for o, w in zip(old, net.trainable_weights))
    assert int(model.step_counter.numpy()) == 1
    assert int(model.optimizer.iterations.numpy()) == int(model.d_optimizer.iterations.numpy()) == 1
    val = model.evaluate(images(seed=3), batch_size=BATCH, verbose=0, return_dict=True)
    assert set(val) == {"recon_loss", "loss"}


def test_resume_restores_k_and_both_optimizers(tmp_path):
    model = tiny_model(jit_compile=False)
    model.build_for_training()
    model.fit(images(), batch_size=BATCH, epochs=1, verbose=0)
    model.adv_k.assign(0.375)
    path = model_state.save(tmp_path, model, epoch=1, state={"step": 1})
    assert checkpoints.read_state(path)["optimizers"] == ["d_optimizer", "optimizer"]

    restored = tiny_model()
    restored.build_for_training()
    model_state.restore(path, restored)
    assert float(restored.adv_k.numpy()) == 0.375
    for name in ("optimizer", "d_optimizer"):
        saved, loaded = getattr(model, name), getattr(restored, name)
        assert int(loaded.iterations.numpy()) == int(saved.iterations.numpy()) == 1
        moments = [i for i, v in enumerate(saved.variables)
                   if len(v.shape) > 0 and np.any(v.numpy() != 0)]
        assert moments, name
        for i in moments[:2]:
            np.testing.assert_array_equal(loaded.variables[i].numpy(), saved.variables[i].numpy())
    x = images(2)
    np.testing.assert_allclose(restored.discriminator(x).numpy(), model.discriminator(x).numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), atol=1e-6)


def test_optimizers_are_built_on_their_own_networks():
    model = tiny_model()
    assert model.optimizer_names == ("optimizer", "d_optimizer")
    assert set(model.optimizers()) == {"optimizer", "d_optimizer"}
    model.build_for_training()
    n_gen = len(model.generator_variables)
    n_disc = len(model.discriminator.trainable_variables)
    # Adam: iterations + learning rate + two moments per variable.
    assert len(model.optimizer.variables) == 2 + 2 * n_gen
    assert len(model.d_optimizer.variables) == 2 + 2 * n_disc
    assert model.discriminator.output_shape == (None, 1)


def test_compile_needs_both_optimizer_instances_and_the_registry_builds_it():
    model = tiny_model(compiled=False)
    with pytest.raises(ValueError, match="d_optimizer"):
        model.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="optimizer"):
        model.compile(None, keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="compile"):
        tiny_model(compiled=False).build_for_training()
    assert isinstance(build_model(small_model_config("augintae-adv")), AdversarialAugIntAE)


def test_mixed_float16_wraps_both_optimizers_and_trains():
    model = tiny_model(dtype="mixed_float16")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit(images(), batch_size=BATCH, epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in history.values()), history
    # gamma is reported unscaled: of the order of the float32 value, not x 2**15.
    assert history["gamma"][0] < 100


MIRRORED = textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from augintae_tf.config import Config
    from augintae_tf.models import build_model
    cfg = Config(); cfg.data.image_size, cfg.model.latent_dim = 8, 4
    cfg.model.name = "augintae-adv"
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = build_model(cfg, width=0.125)
        model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), jit_compile=False)
        model.build_for_training()
        model.adv_k.assign(0.5)
    x = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")
    logs = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in logs.values()), logs
    ks = [float(v.numpy()) for v in model.adv_k.value.values]
    assert len(ks) == 2 and ks[0] == ks[1] != 0.5, ks
    assert abs(logs["adv_k"][0] - ks[0]) < 1e-6, (logs, ks)
    assert int(model.optimizer.iterations.numpy()) == 2 == int(model.d_optimizer.iterations.numpy())
    print("OK")
""")


def test_mirrored_strategy_two_replicas_agree_on_k():
    result = run_python(MIRRORED)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]
