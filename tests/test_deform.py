"""The flow sampler (augintae_tf/models/deform.py): the bilinear warp against array shifts and
scipy's interpolation, registration recovering a known displacement, the same-class pairs, the
bank kept by the latent-stats stage, and the sampler's draws."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from augintae_tf.errors import RunError
from augintae_tf.inference.serving import served_samplers
from augintae_tf.latent import sample_seed_pairs
from augintae_tf.models import deform
from conftest import random_weight_run

SIZE = 12


def blobs(n=3, size=28, seed=0):
    """Smooth random images: a few Gaussian blobs each, values in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    out = np.zeros((n, size, size, 1), np.float32)
    for k in range(n):
        for _ in range(3):
            cy, cx = rng.uniform(size / 3, 2 * size / 3, 2)
            out[k, ..., 0] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (size / 11) ** 2))
    return np.clip(out, 0, 1)


def test_warp_zero_field_is_identity_and_integer_field_is_a_shift():
    x = blobs()
    zero = np.zeros(x.shape[:3] + (2,), np.float32)
    np.testing.assert_allclose(deform.warp(x, zero).numpy(), x, atol=1e-6)
    right = zero.copy()
    right[..., 1], right[..., 0] = 2.0, -1.0  # out(y, x) = in(y - 1, x + 2), edges repeat
    expected = x[:, np.r_[0, 0:27]][:, :, np.r_[2:28, 27, 27]]
    np.testing.assert_allclose(deform.warp(x, right).numpy(), expected, atol=1e-6)


def test_warp_matches_scipy_linear_interpolation_with_nearest_edges():
    x = blobs(2, seed=5)
    lattice = np.random.default_rng(1).normal(0, 2, (2, 6, 6, 2)).astype(np.float32)
    flow = deform.field(lattice, (28, 28)).numpy()
    yy, xx = np.mgrid[:28, :28].astype(np.float64)
    for b in range(2):
        coords = [np.clip(yy + flow[b, ..., 0], 0, 27), np.clip(xx + flow[b, ..., 1], 0, 27)]
        expected = ndimage.map_coordinates(x[b, ..., 0].astype(np.float64), coords, order=1)
        np.testing.assert_allclose(deform.warp(x[b:b + 1], flow[b:b + 1]).numpy()[0, ..., 0],
                                   expected, atol=1e-5)


def test_register_recovers_a_known_translation():
    src = blobs(2, seed=1)
    dst = np.roll(src, 2, axis=2)  # moved 2 px right: dst(p) = src(p - (0, 2))
    lattices = deform.register(src, dst)
    assert lattices.shape == (2, deform.GRID, deform.GRID, 2)
    field = deform.field(lattices, (28, 28)).numpy()
    centre = field[:, 8:20, 8:20]
    assert abs(centre[..., 1].mean() + 2.0) < 0.3
    assert abs(centre[..., 0].mean()) < 0.3
    before = np.mean((src - dst) ** 2)
    after = np.mean((deform.warp(src, field).numpy() - dst) ** 2)
    assert after < 0.1 * before


def test_same_class_pairs_are_two_members_of_one_class_and_skip_lone_classes():
    labels = np.array([0, 0, 0, 1, 2, 2, 3])
    src, dst = deform.same_class_pairs(labels, 50, seed=4)
    assert len(src) == 50 and np.all(src != dst) and np.array_equal(labels[src], labels[dst])
    assert set(labels[src]) == {0, 2}  # classes 1 and 3 have one member
    again = deform.same_class_pairs(labels, 50, seed=4)
    assert np.array_equal(again[0], src) and np.array_equal(again[1], dst)
    assert len(deform.same_class_pairs(np.arange(5), 10)[0]) == 0
    assert deform.flow_bank(blobs(3, 12), np.arange(3)) is None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A loaded tiny AugIntAE run (random weights) whose latent statistics came from 40 labelled
    images: 4 classes, each a blob image under small shifts."""
    from augintae_tf.inference.loaded import load_run

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    base = blobs(4, SIZE, seed=2)[labels]
    images = np.stack([np.roll(img, tuple(rng.integers(-1, 2, 2)), axis=(0, 1)) for img in base])
    path = random_weight_run(tmp_path_factory.mktemp("run"), SIZE, 8, images, images[:8], labels)
    return load_run(path)


def test_the_stage_keeps_a_bank_of_one_pair_per_two_labelled_images(run):
    bank = run.model.latent_stats.flow_lattices
    assert bank.shape == (20, deform.GRID, deform.GRID, 2) and bank.dtype == np.float32
    assert np.abs(bank).max() > 0.05  # the shifted members were registered


def test_flow_moves_a_random_seed_by_a_drawn_lattice_and_scale_zero_returns_it(run):
    model, x = run.model, tf.constant(blobs(3, SIZE, seed=7))
    out = model.fewshot(x, 30, 5, sampler="flow", scale=1.0).numpy()
    first = sample_seed_pairs(3, 30, 5, min_seeds=1)[0].numpy()
    np.testing.assert_allclose(model.fewshot(x, 30, 5, sampler="flow", scale=0.0).numpy(),
                               x.numpy()[first], atol=1e-6)
    bank = model.latent_stats.flow_lattices
    for i in range(30):  # each image is its seed under one of the bank's fields
        errors = [np.abs(deform.warp(x.numpy()[first[i]][None],
                                     deform.field(bank[j:j + 1], (SIZE, SIZE))).numpy()[0]
                         - out[i]).max() for j in range(len(bank))]
        assert min(errors) < 1e-5
    np.testing.assert_array_equal(out, model.fewshot(x, 30, 5, sampler="flow", scale=1.0))
    assert np.abs(out - model.fewshot(x, 30, 6, sampler="flow", scale=1.0)).max() > 1e-3
    one = model.fewshot(x[:1], 8, 5, sampler="flow", scale=1.0).numpy()
    assert one.shape == (8, SIZE, SIZE, 1) and len(np.unique(one.round(4), axis=0)) > 1


def test_flow_without_a_bank_is_a_one_line_error_and_the_default_falls_back(run):
    model = run.model
    stats = model.latent_stats
    try:
        model.use_latent_stats(dataclasses.replace(stats, flow_lattices=None))
        with pytest.raises(RunError) as info:
            model.fewshot(tf.constant(blobs(2, SIZE)), 4, 0, sampler="flow")
        assert str(info.value) == (
            "--sampler flow needs the deformation fields of labelled training pairs, which the "
            "run's latent statistics lack (computed before it existed, or without labels): "
            "recompute them with `augintae-tf train --stage latent-stats --run-dir RUN`")
        assert "flow" not in served_samplers(model) and "within" in served_samplers(model)
    finally:
        model.use_latent_stats(stats)
    assert "flow" in served_samplers(model)
