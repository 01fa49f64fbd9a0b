"""The training targets: ``interpolation_batch`` (augment.py) against independent references, and
what each autoencoder-family model regresses onto under each ``model.target``."""
import math

import numpy as np
import pytest
import tensorflow as tf

from augintae_tf import augment as A
from augintae_tf.config import AugmentConfig, ConfigError, load_config
from augintae_tf.latent import sample_alpha
from augintae_tf.models import build_model
from augintae_tf.models.contract import derive_seed
from augintae_tf.augment import blend, sub_seed
from conftest import random_images, small_model_config

NONE = AugmentConfig(rotation=0, translation=0, scale_min=1, scale_max=1, shear=0)
FULL = AugmentConfig(rotation=20, translation=3, scale_min=0.8, scale_max=1.2, shear=6)
COLOUR = AugmentConfig(rotation=20, translation=3, scale_min=0.8, scale_max=1.2, shear=6,
                       brightness=0.3, contrast=0.3, saturation=0.4, hue=0.1)
SEED = derive_seed(0, 7, 0)


def numpy_transforms(params, size):
    """TF projective transforms (output -> input) of the forward map
    ``p_out = s R(rot) Shear(k) (p_in - c) + c + t``, inverted with NumPy's matrix inverse."""
    c = (size - 1) / 2.0
    rows = []
    for rot, tx, ty, s, shear in zip(*(np.asarray(params[n], np.float64)
                                       for n in ("rotation", "tx", "ty", "scale", "shear"))):
        forward = s * np.array([[math.cos(rot), math.sin(rot)], [-math.sin(rot), math.cos(rot)]]) \
            @ np.array([[1.0, math.tan(shear)], [0.0, 1.0]])
        inverse = np.linalg.inv(forward)
        offset = np.array([c, c]) - inverse @ np.array([c + tx, c + ty])
        rows.append([inverse[0, 0], inverse[0, 1], offset[0],
                     inverse[1, 0], inverse[1, 1], offset[1], 0.0, 0.0])
    return np.array(rows, np.float32)


def reference_augment(images, params, size):
    """TF's raw warp op with NumPy-built transforms, then colour jitter per example from NumPy
    (brightness, contrast) and tf.image (saturation, hue) on each image alone."""
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.constant(images), transforms=numpy_transforms(params, size),
        output_shape=[size, size], fill_value=0.0, interpolation="BILINEAR",
        fill_mode="CONSTANT").numpy()
    if images.shape[-1] != 3:
        return np.clip(warped, 0.0, 1.0)
    out = []
    for i, x in enumerate(warped):
        x = x * float(params["brightness"][i])
        mean = x.mean(axis=(0, 1), keepdims=True)
        x = np.clip((x - mean) * float(params["contrast"][i]) + mean, 0.0, 1.0)
        x = tf.image.adjust_hue(x, float(params["hue"][i]))
        x = tf.image.adjust_saturation(x, float(params["saturation"][i])).numpy()
        out.append(np.clip(x, 0.0, 1.0))
    return np.stack(out)


def fixed_alpha(monkeypatch, value):
    monkeypatch.setattr(A, "sample_alpha", lambda seed, shape, *kind: tf.fill(shape, float(value)))


def test_identity_config_target_and_views_are_the_input():
    x = tf.constant(random_images(5))
    for target in A.TARGETS:
        view1, view2, alpha, middle = A.interpolation_batch(x, NONE, SEED, target)
        for image in (view1, view2, middle):
            np.testing.assert_array_equal(image.numpy(), x.numpy())
        assert alpha.shape == (5,)


@pytest.mark.parametrize("value,view", [(1.0, 0), (0.0, 1)])
def test_alpha_one_gives_view_one_and_alpha_zero_view_two_exactly(monkeypatch, value, view):
    fixed_alpha(monkeypatch, value)
    x = tf.constant(random_images(6, size=16, seed=1).repeat(3, axis=-1))
    out = A.interpolation_batch(x, COLOUR, SEED, "augmentation")
    np.testing.assert_array_equal(out[3].numpy(), out[view].numpy())
    assert not np.allclose(out[0].numpy(), out[1].numpy())  # the views themselves differ


@pytest.mark.parametrize("channels,cfg", [(1, FULL), (3, COLOUR)])
def test_target_is_an_independent_warp_with_the_interpolated_parameters(channels, cfg):
    size = 16
    x = random_images(6, size=size, seed=2).repeat(channels, axis=-1)
    _, _, alpha, middle = A.interpolation_batch(tf.constant(x), cfg, SEED, "augmentation")
    p1, p2 = (A.sample_params(sub_seed(SEED, i), 6, cfg) for i in (1, 2))
    a = sample_alpha(sub_seed(SEED, 0), [6]).numpy()
    np.testing.assert_array_equal(alpha.numpy(), a)
    params = {n: a * p1[n].numpy() + (1 - a) * p2[n].numpy() for n in A.PARAM_NAMES}
    expected = reference_augment(x, params, size)
    np.testing.assert_allclose(middle.numpy(), expected, atol=2e-5)
    # ... and it is not the pixel blend of the views
    view1, view2 = (A.augment(x, cfg, sub_seed(SEED, i)).numpy() for i in (1, 2))
    assert np.abs(middle.numpy() - blend(view1, view2, a).numpy()).max() > 0.1


def test_blend_target_reproduces_the_earlier_training_exactly():
    x = tf.constant(random_images(8, size=16, seed=3))
    view1, view2, alpha, target = A.interpolation_batch(x, FULL, SEED, "blend")
    old1, old2 = (A.augment(x, FULL, sub_seed(SEED, i)) for i in (1, 2))
    old_alpha = sample_alpha(sub_seed(SEED, 0), [8])
    np.testing.assert_array_equal(view1.numpy(), old1.numpy())
    np.testing.assert_array_equal(view2.numpy(), old2.numpy())
    np.testing.assert_array_equal(alpha.numpy(), old_alpha.numpy())
    np.testing.assert_array_equal(target.numpy(), blend(old1, old2, old_alpha).numpy())


def test_a_dot_shifted_by_plus_and_minus_t_meets_in_one_place(monkeypatch):
    """Views: a dot moved by +4 and -4 px; at alpha = 0.75 the augmentation target has ONE dot at
    +2 px, the blend two dots of brightness 0.75 and 0.25 at +4 and -4 px."""
    size, t, centre = 15, 4.0, 7
    x = np.zeros((1, size, size, 1), np.float32)
    x[0, centre, centre, 0] = 1.0
    draws = iter([t, -t])

    def params(seed, batch, cfg):
        p = {"rotation": 0.0, "tx": next(draws), "ty": 0.0, "scale": 1.0, "shear": 0.0}
        return {k: tf.fill([batch], float(v)) for k, v in p.items()}

    monkeypatch.setattr(A, "sample_params", params)
    fixed_alpha(monkeypatch, 0.75)
    cfg = AugmentConfig(rotation=0, translation=t, scale_min=1, scale_max=1, shear=0)
    middle = A.interpolation_batch(tf.constant(x), cfg, SEED, "augmentation")[3].numpy()[0, ..., 0]
    draws = iter([t, -t])
    mixed = A.interpolation_batch(tf.constant(x), cfg, SEED, "blend")[3].numpy()[0, ..., 0]
    one = np.zeros((size, size), np.float32)
    one[centre, centre + 2] = 1.0
    np.testing.assert_allclose(middle, one, atol=1e-6)
    two = np.zeros((size, size), np.float32)
    two[centre, centre + 4], two[centre, centre - 4] = 0.75, 0.25
    np.testing.assert_allclose(mixed, two, atol=1e-6)


def test_interpolation_batch_compiles_with_xla():
    x = tf.constant(random_images(4, size=16, seed=4).repeat(3, axis=-1))
    run = tf.function(lambda images, seed: A.interpolation_batch(images, COLOUR, seed),
                      jit_compile=True)
    middle = run(x, SEED)[3].numpy()
    assert middle.shape == x.shape and 0.0 <= middle.min() and middle.max() <= 1.0


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="target 'ghost' is not allowed; expected one of "
                                         "augmentation, blend"):
        A.interpolation_batch(tf.zeros([2, 8, 8, 1]), FULL, SEED, "ghost")


# --- the models' targets ------------------------------------------------------------------------
def configured(name, target=None):
    cfg = small_model_config(name, size=12)
    cfg.augment.rotation = 15.0
    if target is not None:
        cfg.model = load_config(overrides={"model.name": name, "model.target": target}).model
        cfg.model.latent_dim, cfg.model.width = 8, 0.25
    return cfg


@pytest.mark.parametrize("name", ["ae", "augintae", "augintae-adv"])
@pytest.mark.parametrize("target", ["augmentation", "blend"])
def test_autoencoder_targets_are_interpolation_batch_targets(name, target):
    cfg = configured(name, target)
    model = build_model(cfg, width=0.25)
    assert model.target_kind == target
    x = tf.constant(random_images(8, seed=5))
    prediction, got = model.training_batch(x, SEED)
    # The train step warps through XLA (compiled=True): the same path, so the same bits.
    expected = A.interpolation_batch(x, cfg.augment, SEED, target, compiled=True)[3]
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    if name == "ae":  # input == target: its prediction is the reconstruction of the target
        np.testing.assert_allclose(prediction.numpy(), model(expected, training=True).numpy(),
                                   atol=1e-6)


def test_intae_targets():
    x = tf.constant(random_images(8, seed=6))
    critic = build_model(configured("intae"), width=0.25)  # default: ACAI's critic
    assert critic.target_kind == "critic" and critic.critic is not None
    views = critic.augment(x, SEED, 1)
    prediction, got = critic.training_batch(x, SEED)  # the reconstruction of the view
    np.testing.assert_array_equal(got.numpy(), views.numpy())
    np.testing.assert_allclose(prediction.numpy(), critic(views, training=True).numpy(),
                               atol=1e-6)
    plain = build_model(configured("intae", "blend"), width=0.25)
    assert plain.critic is None and plain.optimizer_names == ("optimizer",)
    offset = plain.partners(x, SEED)
    _, got = plain.training_batch(x, SEED)
    expected = blend(views, tf.roll(views, offset, axis=0), plain.alphas(x, SEED))
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


# --- config ------------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides,message", [
    ({"model.name": "augintae", "model.target": "ghost"},
     "model.target: 'ghost' is not allowed; expected augmentation or blend"),
    ({"model.name": "ae", "model.target": "critic"},
     "model.target: 'critic' is not allowed; expected augmentation or blend"),
    ({"model.name": "intae", "model.target": "augmentation"},
     "model.target: 'augmentation' is not allowed; expected critic or blend"),
    ({"model.name": "intae", "model.critic_weight": "-1"},
     "model.critic_weight: -1.0 is not allowed; expected a weight >= 0"),
    ({"model.name": "intae", "model.critic_gamma": "1.5"},
     "model.critic_gamma: 1.5 is not allowed; expected a value in [0, 1]"),
    ({"model.name": "vae", "model.target": "blend"}, "model.target: unknown field"),
    ({"model.name": "augintae", "model.alpha": "beta"},
     "model.alpha: 'beta' is not allowed; expected midpoint or uniform"),
    ({"model.name": "intae", "model.alpha": "uniform", "model.target": "critic"},
     "model.alpha: 'uniform' is not allowed; expected midpoint under model.target=critic"),
])
def test_bad_target_options_fail_with_one_line(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config(overrides=overrides)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_defaults_per_model_and_switching_models():
    from augintae_tf.config.model_table import section_class

    names = ("ae", "augintae", "augintae-adv", "intae")
    defaults = {name: section_class(name)().target for name in names}
    assert defaults == {"ae": "augmentation", "augintae": "augmentation",
                        "augintae-adv": "augmentation", "intae": "critic"}
    # --model X on the recommended (default) preset gives X's own default target, unless
    # model.target is set too
    chosen = {name: load_config(overrides={"model.name": name}).model.target for name in names}
    assert chosen == defaults and load_config().model.target == "augmentation"
    assert load_config(overrides={"model.name": "augintae", "model.target": "blend"}
                       ).model.target == "blend"
    # the glyphs preset trains augintae; --model intae takes intae's default, not augintae's
    assert load_config("glyphs", {"model.name": "intae"}).model.target == "critic"
    chosen = load_config("glyphs", {"model.target": "blend", "model.name": "intae"}).model
    assert chosen.target == "blend"
    adv = load_config(overrides={"model.name": "augintae-adv", "model.ema": "true"}).model
    assert adv.ema and adv.k_rate == 0.001


def test_old_run_config_without_target_loads_as_the_blend_it_trained(tmp_path):
    import yaml

    from augintae_tf.run.directory import read_config

    for name in ("ae", "intae", "augintae-adv"):
        data = load_config(overrides={"model.name": name}).to_dict()
        del data["model"]["target"]
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
        assert read_config(tmp_path).model.target == "blend"
    data["model"]["target"] = "augmentation"  # a new run keeps what it wrote
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    assert read_config(tmp_path).model.target == "augmentation"


def test_benchmark_target_matrix_recipes():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "benchmarks" / "fewshot_quality.py"
    spec = importlib.util.spec_from_file_location("fewshot_quality_t20", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    matrix = {n for n in bench.RECIPES if n.startswith("t20-") and not n.endswith(("-ua", "-s1"))}
    assert len(matrix) == 16 and "t20-intae-critic-full" in matrix
    assert bench.RECIPES["t20-augintae-aug-full-ua"] == {
        **bench.RECIPES["t20-augintae-aug-full"], "model.alpha": "uniform"}
    full = bench.recipe_config("t20-augintae-aug-full", 25_600, {})
    half = bench.recipe_config("t20-augintae-blend-half", 25_600, {})
    recommended = load_config("recommended")
    assert (full.model.target, half.model.target) == ("augmentation", "blend")
    assert full.augment == load_config("glyphs").augment and half.augment == recommended.augment
    assert full.model.latent_dim == 128 and full.model.pixel_loss == "l1"
    assert full.train.lr_drops == [] and full.train.steps == 200
    # the benchmark's blend-target recipes keep training the blend they were measured with
    assert all(bench.RECIPES[n]["model.target"] == "blend" for n in bench.RECIPES
               if not n.startswith(("t20-", "t23-", "digits-")))
    assert bench.RECIPES["t23-augintae-aug-half-bf16-xla"] == {
        **bench.RECIPES["t20-augintae-aug-half"], "train.precision": "mixed_bfloat16",
        "train.jit": "on"}


def test_augintae_adv_section_carries_the_autoencoder_fields_and_averages():
    import keras

    cfg = configured("augintae-adv")
    cfg.model = load_config(overrides={"model.name": "augintae-adv", "model.ema": "true"}).model
    cfg.model.latent_dim, cfg.model.width = 8, 0.25
    model = build_model(cfg, width=0.25)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3))
    model.build_for_training()
    before = [w.numpy().copy() for w in model.ema_generator.weights]
    model.fit(random_images(8), batch_size=8, epochs=1, verbose=0)
    trainable = {id(v) for v in model.generator.trainable_weights}
    # warm-up decay at step 0 is 0.1: averaged weights move 90% of the way to the trained ones
    # (BatchNorm's moving statistics are copied: see test_averaged.py)
    for old, w, ema in zip(before, model.generator.weights, model.ema_generator.weights):
        expected = 0.1 * old + 0.9 * w.numpy() if id(w) in trainable else w.numpy()
        np.testing.assert_allclose(ema.numpy(), expected, atol=1e-6)


def test_uniform_alpha_is_the_first_draw_of_the_same_stream():
    """model.alpha: uniform = U(0, 1) (mean 1/2, variance 1/12), the first of the two draws whose
    mean is the paper's triangular alpha (variance 1/24)."""
    seed = sub_seed(SEED, 0)
    draws = tf.random.stateless_uniform([2, 20000], seed=seed).numpy()
    uniform = sample_alpha(seed, [20000], "uniform").numpy()
    np.testing.assert_array_equal(uniform, draws[0])
    np.testing.assert_allclose(sample_alpha(seed, [20000]).numpy(), draws.mean(axis=0), atol=1e-7)
    assert abs(uniform.var() - 1 / 12) < 0.003 and abs(draws.mean(axis=0).var() - 1 / 24) < 0.002
    with pytest.raises(ValueError, match="alpha kind 'beta' is not allowed"):
        sample_alpha(seed, [3], "beta")


@pytest.mark.parametrize("name", ["augintae", "ae"])
def test_model_alpha_reaches_the_training_batch(name):
    cfg = small_model_config(name, size=12)
    cfg.model = load_config(overrides={"model.name": name, "model.alpha": "uniform"}).model
    cfg.model.latent_dim, cfg.model.width = 8, 0.25
    model = build_model(cfg, width=0.25)
    x = tf.constant(random_images(6, seed=2))
    _, _, alpha, _ = model.interpolation_batch(x, SEED)
    np.testing.assert_array_equal(alpha.numpy(), sample_alpha(sub_seed(SEED, 0), [6], "uniform"))
    np.testing.assert_array_equal(model.alphas(x, SEED).numpy(), alpha.numpy())
