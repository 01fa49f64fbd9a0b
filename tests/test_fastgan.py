"""FastGAN: one-step tests at 64 and 128 px, its parts against direct computations,
the EMA arithmetic, DiffAugment's probabilities, a checkpoint round trip and the CLI path."""
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.config import ConfigError, load_config

TINY = {"model.name": "fastgan", "model.width": "0.0625", "model.latent_dim": "16",
        "data.channels": "3"}


def tiny_fastgan(size=64, **overrides):
    from augintae_tf.training import build

    cfg = load_config("glyphs", {**TINY, "data.image_size": str(size), **overrides})
    return build(cfg, 4), cfg


def test_config_section_defaults_train_defaults_and_errors():
    cfg = load_config("glyphs", {"model.name": "fastgan", "data.image_size": "64"})
    m = cfg.model
    assert (m.latent_dim, m.beta_1, m.beta_2, m.ema_decay, m.p_flip, m.p_cutout) == \
        (256, 0.5, 0.999, 0.999, 0.5, 0.6)
    # the paper's optimizer settings replace the preset's, but not what the user sets
    assert (cfg.train.lr, cfg.train.batch_size, cfg.train.lr_drops) == (2e-4, 8, [])
    mine = load_config("glyphs", {"model.name": "fastgan", "data.image_size": "64",
                                  "train.lr": "1e-3"})
    assert (mine.train.lr, mine.train.batch_size) == (1e-3, 8)
    assert load_config("glyphs").train.lr == 1e-3  # other models keep the preset's
    assert load_config("glyphs", {"model.name": "fastgan", "data.image_size": "256"}) \
        .data.image_size == 256
    with pytest.raises(ConfigError, match=r"^data.image_size: 28 is not allowed; expected one of "
                                          r"64, 128, 256 for model fastgan$"):
        load_config("glyphs", {"model.name": "fastgan"})
    with pytest.raises(ConfigError, match=r"^model.p_flip: 2.0 is not allowed; expected a "
                                          r"probability in \[0, 1\]$"):
        load_config("glyphs", {"model.name": "fastgan", "data.image_size": "64",
                               "model.p_flip": "2"})


@pytest.mark.parametrize("size", [64, 128])
def test_one_step_moves_every_variable_and_updates_the_ema(size):
    model, cfg = tiny_fastgan(size)
    images = tf.constant(np.random.default_rng(0).uniform(size=(4, size, size, 3)), tf.float32)
    trained = model.generator.trainable_variables + model.d_variables
    before = [v.numpy().copy() for v in trained]
    g_before = [v.numpy().copy() for v in model.generator.trainable_variables]
    ema_before = [v.numpy().copy() for v in model.ema_generator.trainable_variables]
    np.testing.assert_array_equal(np.concatenate([x.ravel() for x in g_before]),
                                  np.concatenate([x.ravel() for x in ema_before]))
    logs = model.train_step(images)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert {"d_loss", "g_loss", "recon_loss", "d_real", "d_fake"} <= set(logs)
    unchanged = [v.path for v, b in zip(trained, before) if np.array_equal(v.numpy(), b)]
    assert unchanged == []  # every variable of G, D and both decoders got a gradient
    assert int(model.optimizer.iterations) == 1 and int(model.d_optimizer.iterations) == 1
    assert int(model.step_counter) == 1
    decay = min(cfg.model.ema_decay, (1 + 0) / (10 + 0))  # warm-up at step 0: 0.1
    for g, e0, e in zip(model.generator.trainable_variables, ema_before,
                        model.ema_generator.trainable_variables):
        np.testing.assert_allclose(e.numpy(), decay * e0 + (1 - decay) * g.numpy(),
                                   rtol=1e-5, atol=1e-7)
    samples = model.sample(3, 7).numpy()
    assert samples.shape == (3, size, size, 3) and 0 <= samples.min() and samples.max() <= 1
    np.testing.assert_array_equal(samples, model.sample(3, 7).numpy())  # deterministic


def test_skip_layer_excitation_is_input_times_channel_gate():
    from augintae_tf.nets.fastgan import SkipLayerExcitation

    rng = np.random.default_rng(1)
    low = tf.constant(rng.normal(size=(2, 8, 8, 5)), tf.float32)
    high = tf.constant(rng.normal(size=(2, 32, 32, 6)), tf.float32)
    sle = SkipLayerExcitation(6, sn=False)
    out = sle([low, high]).numpy()
    gate = sle.gate(low).numpy()
    assert gate.shape == (2, 1, 1, 6) and (gate > 0).all() and (gate < 1).all()
    np.testing.assert_allclose(out, high.numpy() * gate, rtol=1e-6)
    # the gate is the documented chain on the 4x4 average pool of the low map
    pooled = low.numpy().reshape(2, 4, 2, 4, 2, 5).mean(axis=(2, 4))
    k1, b1 = sle.conv1.kernel.numpy(), sle.conv1.bias.numpy()
    h = np.einsum("bijc,ijcd->bd", pooled, k1) + b1
    h = np.where(h > 0, h, 0.1 * h)
    k2, b2 = sle.conv2.kernel.numpy()[0, 0], sle.conv2.bias.numpy()
    want = 1 / (1 + np.exp(-(h @ k2 + b2)))
    np.testing.assert_allclose(gate[:, 0, 0], want, rtol=1e-5)


def test_reconstruction_targets_are_the_right_crops():
    from augintae_tf.models.fastgan.model import quadrant, reconstruction_targets

    x = np.arange(2 * 128 * 128 * 1, dtype=np.float32).reshape(2, 128, 128, 1)
    for index, (r, c) in enumerate([(0, 0), (0, 64), (64, 0), (64, 64)]):
        np.testing.assert_array_equal(quadrant(tf.constant(x), tf.constant(index)).numpy(),
                                      x[:, r:r + 64, c:c + 64])
        big, part = reconstruction_targets(tf.constant(x), index)
        np.testing.assert_allclose(big.numpy(), x.reshape(2, 64, 2, 64, 2, 1).mean(axis=(2, 4)),
                                   rtol=1e-6)
        np.testing.assert_array_equal(part.numpy(), x[:, r:r + 64, c:c + 64])
    x64 = tf.constant(x[:, :64, :64])
    big, part = reconstruction_targets(x64, 3)
    np.testing.assert_array_equal(big.numpy(), x[:, :64, :64])  # already 64 px
    assert part.shape == (2, 64, 64, 1)  # the 32 px quadrant enlarged
    np.testing.assert_allclose(part.numpy()[:, ::2, ::2].mean(), x[:, 32:64, 32:64].mean(), rtol=0.01)


def test_hinge_losses_against_a_direct_computation():
    from augintae_tf.models.fastgan.model import hinge_losses

    real = np.array([[2.0, 0.5], [-1.0, 1.0]], np.float32)
    fake = np.array([[-2.0, 0.3], [0.0, -0.5]], np.float32)
    d, g = hinge_losses(real, fake)
    want_d = np.mean([0, 0.5, 2.0, 0]) + np.mean([0, 1.3, 1.0, 0.5])
    assert float(d) == pytest.approx(want_d) and float(g) == pytest.approx(-np.mean(fake))


def test_ema_warmup_decay():
    from augintae_tf.models.ema import warmup_decay

    assert float(warmup_decay(0.999, 0)) == pytest.approx(0.1)
    assert float(warmup_decay(0.999, 90)) == pytest.approx(91 / 100)
    assert float(warmup_decay(0.999, 10**6)) == pytest.approx(0.999)


def test_ema_update_arithmetic_and_copies():
    from augintae_tf.models.ema import ExponentialMovingAverage

    sources = [tf.Variable([1.0, 2.0]), tf.Variable(3.0)]
    shadows = [tf.Variable([0.0, 0.0]), tf.Variable(0.0)]
    ema = ExponentialMovingAverage(sources, shadows, averaged=[True, False])
    ema.update(0.9)
    np.testing.assert_allclose(shadows[0].numpy(), [0.1, 0.2], rtol=1e-6)
    assert float(shadows[1]) == 3.0  # not averaged: copied
    sources[0].assign([11.0, 12.0])
    tf.function(lambda: ema.update(tf.constant(0.5)), jit_compile=True)()
    np.testing.assert_allclose(shadows[0].numpy(), [5.55, 6.1], rtol=1e-6)
    ema.copy_sources()
    np.testing.assert_array_equal(shadows[0].numpy(), [11.0, 12.0])
    with pytest.raises(ValueError, match="has shape \\(3,\\), its source"):
        ExponentialMovingAverage([tf.Variable([1.0, 2.0])], [tf.Variable([0.0, 0.0, 0.0])])


@pytest.mark.parametrize("jit", [False, True])
def test_diffaugment_probabilities_in_eager_and_xla(jit):
    from augintae_tf.models.fastgan.diffaugment import DEFAULT_PROBABILITIES, apply_diffaugment, sample_diffaugment

    n = 4000
    params = tf.function(lambda s: sample_diffaugment(s, n), jit_compile=True)(
        tf.constant([3, 4], tf.int64)) if jit else sample_diffaugment(tf.constant([3, 4], tf.int64), n)
    for op, p in DEFAULT_PROBABILITIES.items():
        rate = float(np.mean(params[f"apply_{op}"].numpy()))
        assert abs(rate - p) < 0.03, (op, rate)  # 4 sd of a binomial share at n = 4000
    # the gates do what they say: an image changes by the flip exactly when it is flipped
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 16, 16, 3)).astype(np.float32)
    only_flip = {k: (v[:64] if k != "apply_flip" else v[:64]) for k, v in params.items()}
    for op in DEFAULT_PROBABILITIES:
        if op != "flip":
            only_flip[f"apply_{op}"] = tf.zeros([64], tf.bool)
    out = apply_diffaugment(tf.constant(x), only_flip).numpy()
    flipped = only_flip["apply_flip"].numpy()
    np.testing.assert_array_equal(out[flipped], x[flipped][:, :, ::-1])
    np.testing.assert_array_equal(out[~flipped], x[~flipped])


def test_diffaugment_operations_and_gradient():
    from augintae_tf.models.fastgan.diffaugment import OPERATIONS, apply_diffaugment, diffaugment

    x = tf.constant(np.random.default_rng(2).uniform(-1, 1, size=(3, 16, 16, 3)), tf.float32)
    ones, half = tf.ones([3], tf.bool), tf.fill([3], 0.5)
    base = {f"apply_{op}": tf.zeros([3], tf.bool) for op in OPERATIONS}
    base.update({k: half for k in ("brightness", "saturation", "contrast", "tx", "ty", "cx", "cy")})
    np.testing.assert_array_equal(apply_diffaugment(x, base).numpy(), x.numpy())
    bright = apply_diffaugment(x, {**base, "apply_brightness": ones,
                                   "brightness": tf.fill([3], 0.8)}).numpy()
    np.testing.assert_allclose(bright, x.numpy() + 0.3, rtol=1e-6)
    shifted = apply_diffaugment(x, {**base, "apply_translation": ones,
                                    "tx": tf.fill([3], 0.99), "ty": half}).numpy()
    np.testing.assert_allclose(shifted[:, :, 2:], x.numpy()[:, :, :-2], atol=1e-6)  # +2 px
    assert (shifted[:, :, :2] == 0).all()
    cut = apply_diffaugment(x, {**base, "apply_cutout": ones}).numpy()
    assert ((cut == 0).all(axis=-1).sum(axis=(1, 2)) == 64).all()  # an 8x8 square, S/2 side
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(diffaugment(x, tf.constant([1, 2], tf.int64)))
    grad = tape.gradient(total, x)
    assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0


def test_checkpoint_round_trip_restores_g_d_ema_optimizers_and_rng(tmp_path):
    from augintae_tf.run import checkpoints, model_state

    model, _ = tiny_fastgan(64)
    images = tf.constant(np.random.default_rng(0).uniform(size=(4, 64, 64, 3)), tf.float32)
    model.train_step(images)
    model.train_step(images)
    model_state.save(tmp_path, model, 1, {"step": 2})
    fresh, _ = tiny_fastgan(64)
    model_state.restore(checkpoints.latest_checkpoint(tmp_path), fresh)
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert int(fresh.step_counter) == 2
    ema = [v.numpy() for v in fresh.ema_generator.trainable_variables]
    g = [v.numpy() for v in fresh.generator.trainable_variables]
    assert any(not np.array_equal(e, x) for e, x in zip(ema, g))  # the EMA is its own state
    for name in ("optimizer", "d_optimizer"):
        for a, b in zip(getattr(model, name).variables, getattr(fresh, name).variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.d_optimizer.iterations) == 2
    np.testing.assert_array_equal(fresh.sample(2, 3).numpy(), model.sample(2, 3).numpy())
    # interpolation between noise vectors: the endpoints are the endpoints' images
    z = tf.random.stateless_normal([2, 16], [1, 2])
    path = fresh.interpolate_noise(tf.stack([z[0], z[0]]), tf.stack([z[1], z[1]]),
                                   tf.constant([1.0, 0.0])).numpy()
    ends = fresh.generate_from_noise(z).numpy()
    np.testing.assert_allclose(path, ends, atol=1e-5)


def test_cli_trains_on_a_folder_resumes_samples_evaluates_and_exports(tmp_path):
    import json

    from click.testing import CliRunner
    from PIL import Image

    import signal

    from conftest import killed_cli, run_python

    from augintae_tf.cli.main import main
    from augintae_tf.inference.loaded import load_run
    from augintae_tf.run.metrics_log import read_metrics

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
                tmp_path / "data" / cls / f"{i}.png")
    run_dir = tmp_path / "run"
    invoke = lambda *a: CliRunner().invoke(main, [str(x) for x in a], catch_exceptions=False)  # noqa
    common = ["--model", "fastgan", "--dataset", tmp_path / "data", "--image-size", 64,
              "--set", "model.width=0.0625", "--set", "model.latent_dim=16", "--epochs", 3,
              "--snap", 1, "--set", "train.steps_per_epoch=2", "--set", "data.channels=3",
              "--run-dir", run_dir]
    # kill -9 while epoch 2's checkpoint is renamed into place, then resume to the end
    killed = run_python(killed_cli("rename@2"), "train", *map(str, common))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = invoke("train", "--resume", "--run-dir", run_dir)
    assert resumed.exit_code == 0, resumed.output
    assert "resuming fastgan" in resumed.output and "(epoch 2/3" in resumed.output
    assert [r["epoch"] for r in read_metrics(run_dir)] == [1, 2, 3]
    assert json.loads((run_dir / "checkpoints" / "epoch-00003" / "state.json").read_text())[
        "rng_step"] == 6  # the RNG counter continued from the checkpoint (2 steps per epoch)
    assert (run_dir / "samples" / "progress.png").stat().st_size > 0
    with np.load(run_dir / "samples" / "progress.npz") as rows:  # epoch 1 from the killed run
        assert sorted(rows.files) == ["epoch_00001", "epoch_00002", "epoch_00003"]
        assert rows["epoch_00001"].shape == (8, 64, 64, 3)
    out = tmp_path / "gen"
    generated = invoke("generate", "--run-dir", run_dir, "--num", 5, "--seed", 3, "--out", out)
    assert generated.exit_code == 0, generated.output
    assert len(list(out.glob("0000*.png"))) == 5 and (out / "grid.png").exists()
    run = load_run(run_dir)
    np.testing.assert_array_equal(run.sample(5, 3), run.model.sample(5, 3).numpy())
    evaluated = invoke("evaluate", "--run-dir", run_dir, "--num-images", 30)
    assert evaluated.exit_code == 0, evaluated.output
    record = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert record["metrics_requested"] == ["samples"] and record["fd_px8_samples_raw"] > 0
    assert record["fd_px8_samples"] is None  # 30 samples in 8x8x3 = 192 pixel features
    assert record["fd_px8_samples_images"].startswith("30 vs ")
    assert record["fd_px8_samples_note"].startswith("too few images for a Fréchet distance: ")
    assert record["fd_px8_samples_note"].endswith(" < 384 (2 per feature dimension, 192 dimensions)")
    refused = invoke("evaluate", "--run-dir", run_dir, "--metrics", "recon")
    assert "metric(s) recon need a capability model fastgan lacks (it has: sample)" in \
        refused.output
    exported = invoke("export", "--run-dir", run_dir, "--out", tmp_path / "serving")
    assert exported.exit_code == 0, exported.output
    served = tf.saved_model.load(str(tmp_path / "serving" / "1"))
    images = served.signatures["sample"](num=tf.constant(4), seed=tf.constant(9, tf.int64))
    np.testing.assert_allclose(images["images"].numpy(), run.sample(4, 9), atol=1e-5)


def test_networks_at_256_px_have_the_documented_shapes():
    from augintae_tf.nets.fastgan import build_fastgan_discriminator, build_fastgan_generator

    g = build_fastgan_generator(256, 3, 8, 0.0625, sn=False)
    assert [layer.name for layer in g.layers if layer.name.startswith("sle")] == \
        ["sle4_64", "sle8_128", "sle16_256"]  # the paper's pairs
    images = g(tf.random.stateless_normal([1, 8], [0, 1]))
    assert images.shape == (1, 256, 256, 3) and float(tf.reduce_max(tf.abs(images))) <= 1
    logits, f16, f8 = build_fastgan_discriminator(256, 3, 0.0625, sn=False)(images)
    assert (logits.shape, f16.shape[:3], f8.shape[:3]) == ((1, 5, 5, 1), (1, 16, 16), (1, 8, 8))


def test_conv3x3_gradients_equal_tensorflow_convolution():
    """FastGAN's 3x3 convolution (kernel gradient as one matrix product) has TensorFlow's
    forward and both gradients, up to float32 round-off, for a loss that weights every output."""
    import numpy as np
    import tensorflow as tf

    from augintae_tf.nets.fastgan import Conv2D

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(3, 7, 6, 5)), tf.float32)
    layer = Conv2D(4, 3, padding="same", use_bias=True)
    layer.build(x.shape)
    weights = tf.constant(rng.normal(size=(3, 7, 6, 4)), tf.float32)

    def loss_and_grads(fn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(fn(x) * weights)
        return [loss, *tape.gradient(loss, [x, layer.kernel, layer.bias])]

    ours = loss_and_grads(layer)
    reference = loss_and_grads(
        lambda v: tf.nn.conv2d(v, layer.kernel, 1, "SAME") + layer.bias)
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
    # stride 2 / 4x4 layers keep Keras' own op (no custom gradient)
    plain = Conv2D(4, 4, strides=2, padding="same")
    plain.build(x.shape)
    assert plain.convolution_op(x, plain.kernel).shape == (3, 4, 3, 4)
