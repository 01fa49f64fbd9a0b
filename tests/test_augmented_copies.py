"""The augmented-copies reference row (augintae_tf.metrics.reference_rows): the seeds under an
affine drawn as training draws it, checked against an independent NumPy/SciPy warp."""
import math

import numpy as np
import tensorflow as tf
from scipy import ndimage

from augintae_tf.augment import sample_params
from augintae_tf.config import AugmentConfig
from augintae_tf.metrics.fewshot import sample_fewshot_plan
from augintae_tf.metrics.fewshot_quality import fewshot_quality
from augintae_tf.metrics.reference_rows import affine_fn, seed_copies


def numpy_affine(images, params, i):
    """The forward map p_out = s R Shear (p_in - c) + c + t, inverted and sampled bilinearly with
    zero fill interpolated at the border (scipy's grid-constant, as TF's fill value 0),
    independently of augintae_tf.augment."""
    rot, shear, scale = (float(params[k][i]) for k in ("rotation", "shear", "scale"))
    t = np.array([float(params["tx"][i]), float(params["ty"][i])])
    forward = scale * np.array([[math.cos(rot), math.sin(rot)], [-math.sin(rot), math.cos(rot)]]) \
        @ np.array([[1.0, math.tan(shear)], [0.0, 1.0]])
    size = images.shape[1]
    c = (size - 1) / 2.0
    ys, xs = np.mgrid[:size, :size].astype(np.float64)
    out_xy = np.stack([xs.ravel(), ys.ravel()])
    in_xy = np.linalg.inv(forward) @ (out_xy - (c + t)[:, None]) + c
    sampled = ndimage.map_coordinates(images[i, :, :, 0].astype(np.float64), [in_xy[1], in_xy[0]],
                                      order=1, mode="grid-constant", cval=0.0)
    return np.clip(sampled.reshape(size, size), 0, 1)


def test_augmented_copies_are_the_seeds_under_an_independent_affine():
    cfg = AugmentConfig(rotation=10, translation=2, scale_min=0.9, scale_max=1.1, shear=3,
                        brightness=0.4)  # colour ranges are left out of the row
    labels = np.repeat(np.arange(3), 6)
    images = np.random.default_rng(0).uniform(size=(18, 14, 14, 1)).astype(np.float32)
    plan = sample_fewshot_plan(labels, 3, 30, seed=1)
    copies = seed_copies(images, plan)
    augmented = affine_fn(cfg)(copies, 7)
    geometric = AugmentConfig(rotation=10, translation=2, scale_min=0.9, scale_max=1.1, shear=3)
    params = {k: v.numpy() for k, v in sample_params(tf.constant([7, 31], tf.int64), 30,
                                                     geometric).items()}
    assert np.abs(params["rotation"]).max() <= math.radians(10) and params["rotation"].std() > 0
    for i in range(30):
        np.testing.assert_allclose(augmented[i, :, :, 0], numpy_affine(copies, params, i), atol=2e-5)
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731 (pixels as features)
    result = fewshot_quality({"model": copies}, plan, images, labels, flat, augment_fn=affine_fn(cfg),
                             seed=7, realism_epochs=1)
    assert list(result["rows"]) == ["model", "floor", "seed_copies", "seed_augmented", "crossfade"]
    row, copies_row = result["rows"]["seed_augmented"], result["rows"]["seed_copies"]
    assert row["seed_distance_px"] > 0 == copies_row["seed_distance_px"]
