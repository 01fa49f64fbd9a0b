"""augintae_tf.augment: the pure-TF warp against TF's raw op, conventions, ranges, colour, XLA."""
import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf

from augintae_tf import augment as A
from augintae_tf.config import AugmentConfig

NONE = AugmentConfig(rotation=0, translation=0, scale_min=1, scale_max=1, shear=0)  # identity
SEED = tf.constant([3, 7], tf.int32)


def geometric(**values):
    """Identity parameters for a batch of one, with the given ones overridden."""
    params = {"rotation": 0.0, "tx": 0.0, "ty": 0.0, "scale": 1.0, "shear": 0.0, **values}
    return {k: tf.constant([v], tf.float32) for k, v in params.items()}


def raw_warp(images, transforms, fill):
    h, w = images.shape[1:3]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[h, w], fill_value=0.0,
        interpolation="BILINEAR", fill_mode=fill.upper())


@pytest.mark.parametrize("fill", ["constant", "reflect"])
def test_warp_matches_raw_op_eager_and_xla(fill):
    rng = np.random.default_rng(0)
    batch, h, w = 12, 9, 13  # not square: a swapped x/y would show
    images = tf.constant(rng.random((batch, h, w, 2)), tf.float32)
    wild = AugmentConfig(rotation=180, translation=w, scale_min=0.4, scale_max=2.5, shear=40)
    transforms = A.affine_transforms(A.sample_params(SEED, batch, wild), w).numpy()
    transforms[:, 6:] = rng.normal(size=(batch, 2)) * 0.01  # exercise the projective division too
    transforms = tf.constant(transforms)
    expected = raw_warp(images, transforms, fill)
    eager = A.warp(images, transforms, fill)
    xla = tf.function(lambda x, t: A.warp(x, t, fill), jit_compile=True)(images, transforms)
    # compiled_warp: XLA clusters inside a graph that is not XLA-compiled (the steps'), and eagerly
    cluster = tf.function(lambda x, t: A.compiled_warp(x, t, fill))(images, transforms)
    np.testing.assert_array_equal(A.compiled_warp(images, transforms, fill), eager)
    np.testing.assert_allclose(eager, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(xla, expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(cluster, expected, rtol=0, atol=1e-5)
    # The transforms reach far outside the image, so the fill mode was really exercised.
    other = raw_warp(images, transforms, "reflect" if fill == "constant" else "constant")
    assert np.abs(expected - other).max() > 0.1


def test_compiled_augment_marks_the_warp_for_xla_with_the_same_views():
    """augment(compiled=True) inside a plain tf.function: the warp's ops (and only they) are
    marked for XLA's clustering, and the views equal the uncompiled ones to float rounding."""
    images = tf.constant(np.random.default_rng(1).random((6, 12, 12, 1)), tf.float32)
    cfg = AugmentConfig(rotation=30, translation=3, scale_min=0.8, scale_max=1.2, shear=10)
    step = tf.function(lambda x: A.augment(x, cfg, SEED, compiled=True))
    graph = step.get_concrete_function(images).graph

    def marked(op):
        return "_XlaCompile" in op.node_def.attr and op.get_attr("_XlaCompile")
    types = {op.type for op in graph.get_operations() if marked(op)}
    assert {"GatherV2", "Floor", "RealDiv"} <= types  # the warp's ops
    assert not {"StatelessRandomUniformV2", "Sin"} & types  # not the parameters' sampling
    plain = A.augment(images, cfg, SEED)
    np.testing.assert_allclose(step(images), plain, rtol=0, atol=1e-5)
    assert np.abs(plain.numpy() - images.numpy()).max() > 0.1  # the warp did something


def test_warp_rejects_unknown_fill():
    with pytest.raises(ValueError, match="fill"):
        A.warp(tf.zeros([1, 4, 4, 1]), tf.constant([[1.0, 0, 0, 0, 1, 0, 0, 0]]), "wrap")


def test_sample_params_ranges_and_determinism():
    cfg = AugmentConfig(rotation=20, translation=4, scale_min=0.8, scale_max=1.2, shear=6,
                        brightness=0.25, contrast=0.25, saturation=0.25, hue=0.05)
    p = {k: v.numpy() for k, v in A.sample_params(SEED, 256, cfg).items()}
    assert set(p) == set(A.PARAM_NAMES)
    limits = {"rotation": (-math.radians(20), math.radians(20)), "tx": (-4, 4), "ty": (-4, 4),
              "scale": (0.8, 1.2), "shear": (-math.radians(6), math.radians(6)),
              "brightness": (0.75, 1.25), "contrast": (0.75, 1.25), "saturation": (0.75, 1.25),
              "hue": (-0.05, 0.05)}
    for name, (lo, hi) in limits.items():
        assert p[name].shape == (256,) and p[name].dtype == np.float32
        assert lo - 1e-6 <= p[name].min() and p[name].max() <= hi + 1e-6, name
        assert p[name].max() - p[name].min() > 0.8 * (hi - lo), name  # spread across the range
    assert not np.allclose(p["tx"], p["ty"])  # independent draws per axis
    again = A.sample_params(tf.constant([3, 7], tf.int64), 256, cfg)
    other = A.sample_params(tf.constant([3, 8]), 256, cfg)
    for name in A.PARAM_NAMES:
        np.testing.assert_array_equal(again[name], p[name])
        assert not np.allclose(other[name], p[name])
    zero = A.sample_params(SEED, 5, NONE)
    for name in A.PARAM_NAMES:
        np.testing.assert_array_equal(zero[name], 0.0 if name in ("rotation", "tx", "ty", "shear",
                                                                  "hue") else 1.0)


def test_identity_params_and_config_are_identity():
    images = tf.random.stateless_uniform([2, 6, 6, 3], seed=[0, 1])
    identity = {k: tf.repeat(v, 2) for k, v in geometric().items()}
    transforms = A.affine_transforms(identity, 6)
    np.testing.assert_array_equal(transforms, [[1, 0, 0, 0, 1, 0, 0, 0]] * 2)
    for fill in ("constant", "reflect"):
        np.testing.assert_array_equal(A.warp(images, transforms, fill), images)
    assert A.is_identity(NONE) and not A.is_identity(AugmentConfig())
    assert not A.is_identity(dataclasses.replace(NONE, scale_min=1.1, scale_max=1.1))
    assert A.augment(images, NONE, SEED) is images  # no ops at all


def test_rotation_plus_90_is_counter_clockwise():
    image = np.zeros((1, 5, 5, 1), np.float32)
    image[0, 2, 4] = 1.0  # right of the centre (row 2, column 4)
    transforms = A.affine_transforms(geometric(rotation=math.pi / 2), 5)
    out = A.warp(image, transforms).numpy()[0, :, :, 0]
    expected = np.zeros((5, 5), np.float32)
    expected[0, 2] = 1.0  # counter-clockwise on screen: the top
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_integer_translation_moves_image_exactly():
    images = tf.random.stateless_uniform([1, 8, 8, 1], seed=[1, 2]).numpy()
    out = A.warp(images, A.affine_transforms(geometric(tx=2.0, ty=-3.0), 8)).numpy()
    expected = np.zeros_like(images)
    expected[:, :5, 2:] = images[:, 3:, :6]  # right by 2, up by 3, zeros shifted in
    np.testing.assert_array_equal(out, expected)


def test_scale_and_shear_conventions():
    image = np.zeros((1, 9, 9, 1), np.float32)
    image[0, 4, 6] = 1.0  # two pixels right of the centre (4, 4)
    scaled = A.warp(image, A.affine_transforms(geometric(scale=1.5), 9)).numpy()[0, :, :, 0]
    assert scaled[4, 7] == pytest.approx(1.0, abs=1e-5)  # 2 px -> 3 px from the centre
    image = np.zeros((1, 9, 9, 1), np.float32)
    image[0, 6, 4] = 1.0  # two pixels below the centre
    sheared = A.warp(image, A.affine_transforms(geometric(shear=math.atan(0.5)), 9)).numpy()
    assert sheared[0, 6, 5, 0] == pytest.approx(1.0, abs=1e-5)  # x += tan(shear) * y


def reference_jitter(image, b, c, s, h):
    """One example through tf.image's own ops (brightness is a factor here, as in the paper)."""
    x = tf.image.adjust_contrast(image * b, c)
    x = tf.image.adjust_hue(tf.image.adjust_saturation(tf.clip_by_value(x, 0.0, 1.0), s), h)
    return tf.clip_by_value(x, 0.0, 1.0)


def test_color_jitter_matches_tf_image_per_example():
    cfg = AugmentConfig(brightness=0.25, contrast=0.25, saturation=0.25, hue=0.05)
    images = tf.random.stateless_uniform([4, 5, 5, 3], seed=[4, 4])
    params = A.sample_params(SEED, 4, cfg)
    out = A.color_jitter(images, params)
    for i in range(4):
        ref = reference_jitter(images[i], *(params[n][i] for n in A.PARAM_NAMES[5:]))
        np.testing.assert_allclose(out[i], ref, atol=1e-5)
    assert np.unique(params["hue"]).size == 4  # per example, not one factor for the batch


def test_brightness_scales_and_identity_factors_change_nothing():
    images = tf.random.stateless_uniform([2, 4, 4, 3], seed=[5, 5], maxval=0.9)
    half = A.color_jitter(images, {"brightness": tf.constant([0.5, 1.0])})
    np.testing.assert_allclose(half[0], images[0] * 0.5, rtol=1e-6)
    np.testing.assert_allclose(half[1], images[1], rtol=1e-6)
    ones, zeros = tf.ones([2]), tf.zeros([2])
    same = A.color_jitter(images, {"saturation": ones, "hue": zeros, "contrast": ones})
    np.testing.assert_allclose(same, images, atol=1e-6)
    # A zero saturation (and hue) range leaves the HSV round trip out entirely: bit-exact.
    brightness_only = dataclasses.replace(NONE, brightness=0.3, saturation=0.0, hue=0.0)
    factor = A.sample_params(SEED, 2, brightness_only)["brightness"][:, None, None, None]
    np.testing.assert_array_equal(A.augment(images, brightness_only, SEED),
                                  tf.clip_by_value(images * factor, 0.0, 1.0))


@pytest.mark.parametrize("shift,rgb", [(1 / 6, (1, 1, 0)), (1 / 3, (0, 1, 0)), (-1 / 6, (1, 0, 1))])
def test_hue_shift_of_pure_red(shift, rgb):
    red = tf.constant([[[[1.0, 0.0, 0.0]]]])
    out = A.color_jitter(red, {"hue": tf.constant([shift])}).numpy().ravel()
    np.testing.assert_allclose(out, rgb, atol=1e-5)


def test_grayscale_untouched_by_colour():
    images = tf.random.stateless_uniform([3, 6, 6, 1], seed=[6, 6])
    params = A.sample_params(SEED, 3, AugmentConfig(brightness=0.5, contrast=0.5, hue=0.5))
    assert A.color_jitter(images, params) is images
    colour_only = dataclasses.replace(NONE, brightness=0.5, hue=0.3)
    np.testing.assert_array_equal(A.augment(images, colour_only, SEED), images)


def test_augment_compiles_with_xla_dynamic_batch_and_is_deterministic():
    cfg = AugmentConfig(rotation=10, translation=8, shear=3, brightness=0.25, contrast=0.25,
                        saturation=0.25, hue=0.05, fill="reflect")
    signature = [tf.TensorSpec([None, 16, 16, 3]), tf.TensorSpec([2], tf.int32)]
    fn = tf.function(lambda x, s: A.augment(x, cfg, s), jit_compile=True, input_signature=signature)
    images = tf.random.stateless_uniform([6, 16, 16, 3], seed=[8, 8])
    out = fn(images, SEED).numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, images.numpy())
    np.testing.assert_allclose(fn(images, SEED), out, atol=1e-6)  # same seed, same augmentation
    # XLA's Philox stream differs from the TF kernel's, so rebuild the eager result from the
    # parameters XLA drew: the compiled pipeline must equal warp + colour jitter run eagerly.
    params = tf.function(lambda s: A.sample_params(s, 6, cfg), jit_compile=True)(SEED)
    warped = A.warp(images, A.affine_transforms(params, 16), "reflect")
    np.testing.assert_allclose(A.color_jitter(warped, params), out, atol=1e-5)
    assert not np.allclose(fn(images, SEED + 1), out)
    assert fn(images[:3], SEED).shape == (3, 16, 16, 3)  # another batch size, same function


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_augment_keeps_low_precision_dtype(dtype):
    images = tf.random.stateless_uniform([2, 8, 8, 3], seed=[9, 9])
    cfg = AugmentConfig(brightness=0.2, saturation=0.2)
    out = A.augment(tf.cast(images, dtype), cfg, SEED)
    assert out.dtype == dtype
    np.testing.assert_allclose(tf.cast(out, tf.float32), A.augment(images, cfg, SEED), atol=2e-2)


def test_glyph_keeps_its_mass_under_handwritten_ranges():
    # A character-like stroke pattern inside the central 11x11 of a 28x28 canvas, as MNIST digits
    # are centred; under the paper's ranges it must move and deform but never leave the frame.
    glyph = np.zeros((28, 28, 1), np.float32)
    glyph[9:19, 13:15] = 1.0
    glyph[9:11, 9:19] = 1.0
    glyph[17:19, 10:17] = 0.7
    images = tf.constant(np.repeat(glyph[None], 64, axis=0))
    cfg = AugmentConfig()  # the handwritten defaults: 20 deg, 4 px, 0.8-1.2, 6 deg
    out = A.augment(images, cfg, SEED).numpy()
    scale = A.sample_params(SEED, 64, cfg)["scale"].numpy()
    mass = out.sum(axis=(1, 2, 3)) / glyph.sum()
    # Rotation and shear keep area; scale s multiplies it by s^2.  Occlusion would lose mass.
    np.testing.assert_allclose(mass, scale ** 2, rtol=0.05)
    assert len({arr.tobytes() for arr in out}) == 64  # every example augmented differently


def test_preview_rows():
    images = np.random.default_rng(1).random((3, 8, 8, 1)).astype(np.float32)
    rows = A.preview_rows(images, AugmentConfig(), copies=4, seed=2)
    assert len(rows) == 3
    for image, row in zip(images, rows):
        assert row.shape == (5, 8, 8, 1)
        np.testing.assert_array_equal(row[0], image)
        assert not np.allclose(row[1], row[2])
    np.testing.assert_array_equal(A.preview_rows(images, AugmentConfig(), 4, seed=2)[1], rows[1])
