"""The aug-path samplers (augintae_tf/models/aug_path.py): the decoded points on AugIntAE's learned
augmentation paths, with and without a within-class step, as images and as edits of the seed."""
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.augment import apply_params, sample_params
from augintae_tf.config.choices import SAMPLER_TABLE
from augintae_tf.errors import RunError
from augintae_tf.evaluation.quality import sampler_and_scale
from augintae_tf.latent import sample_seed_pairs, slerp
from augintae_tf.models.aug_path import IDENTITY, path_params
from conftest import random_weight_run

SIZE = 12
NAMES = tuple(name for name, row in SAMPLER_TABLE.items()
              if row.draw.startswith("augintae_tf.models.aug_path:"))  # its rows of the table


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny glyphs-preset AugIntAE with random weights (the preset's nonzero augmentation
    ranges) and latent statistics holding the within-class covariance of 3 labelled classes."""
    from augintae_tf.inference.loaded import load_run

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20).astype(np.int32)
    images = np.clip(rng.random((3, SIZE, SIZE, 1))[labels] + rng.normal(0, 0.1, (60, SIZE, SIZE, 1)),
                     0, 1).astype(np.float32)
    run = random_weight_run(tmp_path_factory.mktemp("run"), SIZE, 8, images, images[:12], labels)
    return load_run(run).model


def seeds(k, seed=3):
    return tf.constant(np.random.default_rng(seed).random((k, SIZE, SIZE, 1)), tf.float32)


@pytest.mark.parametrize("sampler", NAMES)
def test_deterministic_per_seed_with_one_seed_enough_and_chunks_equal_one_call(model, sampler):
    x = seeds(4)
    out = model.fewshot(x, 40, 5, sampler=sampler, scale=1.0).numpy()
    assert out.shape == (40, SIZE, SIZE, 1) and 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_array_equal(out, model.fewshot(x, 40, 5, sampler=sampler, scale=1.0))
    assert np.abs(out - model.fewshot(x, 40, 6, sampler=sampler, scale=1.0)).max() > 1e-3
    chunked = model.fewshot(x, 40, 5, sampler=sampler, scale=1.0, batch_size=16).numpy()
    np.testing.assert_allclose(chunked, out, atol=1e-5)
    one = model.fewshot(x[:1], 10, 5, sampler=sampler, scale=1.0).numpy()
    assert one.shape == (10, SIZE, SIZE, 1)
    assert len(np.unique(one.round(4), axis=0)) == 10  # one seed, ten different images


def test_at_scale_zero_the_decoded_ones_reconstruct_the_seed_and_the_edit_returns_it(model):
    x = seeds(5)
    first = sample_seed_pairs(5, 30, 7, min_seeds=1)[0].numpy()
    recon = model(x).numpy()[first]
    for sampler in ("aug-path", "aug-path-within"):
        out = model.fewshot(x, 30, 7, sampler=sampler, scale=0.0).numpy()
        np.testing.assert_allclose(out, recon, atol=1e-5)
    edit = model.fewshot(x, 30, 7, sampler="aug-path-edit", scale=0.0).numpy()
    np.testing.assert_allclose(edit, x.numpy()[first], atol=1e-5)
    # and a nonzero scale moves every one of them off the seed
    moved = model.fewshot(x, 30, 7, sampler="aug-path-edit", scale=1.0).numpy()
    assert np.abs(moved - x.numpy()[first]).max(axis=(1, 2, 3)).min() > 1e-4  # 10x the tolerance


def test_aug_path_decodes_the_slerp_from_the_augmented_seed_to_the_seed(model):
    """The equation, rebuilt from the public pieces: p = slerp(z(T(x; id + s (u - id))), z(x), t)
    with u of stream [seed, 12] in the run's ranges and t ~ U(0, 1) of stream [seed, 11]."""
    x, num, seed, scale = seeds(3), 12, 9, 1.5
    cfg = model.setup.augment
    first = sample_seed_pairs(3, num, seed, min_seeds=1)[0]
    u = sample_params(tf.constant([seed, 12], tf.int64), num, cfg)
    rho = {k: IDENTITY[k] + scale * (v - IDENTITY[k]) for k, v in u.items()}
    t = tf.random.stateless_uniform([num], tf.constant([seed, 11], tf.int64))
    augmented = apply_params(tf.gather(x, first), rho, cfg)
    expected = model.decode(slerp(model.encode(augmented), tf.gather(model.encode(x), first), t))
    out = model.fewshot(x, num, seed, sampler="aug-path", scale=scale)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)


def test_path_params_scale_the_ranges_about_the_identity(model):
    cfg = model.setup.augment  # glyphs preset: rotation 20 deg, translation 4 px, scale 0.8-1.2
    at = {s: path_params(cfg, 2000, 1, s) for s in (0.0, 0.5, 2.0)}
    for name, identity in IDENTITY.items():
        np.testing.assert_array_equal(at[0.0][name].numpy(), np.full(2000, identity, np.float32))
    np.testing.assert_allclose(at[2.0]["tx"].numpy(), 4 * at[0.5]["tx"].numpy(), atol=1e-5)
    assert np.abs(at[2.0]["tx"].numpy()).max() == pytest.approx(2 * cfg.translation, rel=0.01)
    assert at[2.0]["scale"].numpy().min() == pytest.approx(1 - 2 * (1 - cfg.scale_min), abs=0.01)


def test_the_within_ones_need_the_within_covariance_and_aug_path_needs_none(model):
    stats = model.latent_stats
    try:
        model.latent_stats = None
        assert model.fewshot(seeds(2), 3, 0, sampler="aug-path", scale=1.0).shape == (3, SIZE, SIZE, 1)
        for sampler in ("aug-path-within", "aug-path-edit"):
            with pytest.raises(RunError, match=f"^--sampler {sampler} needs the run's latent "):
                model.fewshot(seeds(2), 3, 0, sampler=sampler, scale=1.0)
    finally:
        model.latent_stats = stats


def test_compare_rows_take_their_own_scale():
    assert sampler_and_scale("aug-path:2", 0.7) == ("aug-path", 2.0)
    assert sampler_and_scale("local-edit", 0.7) == ("local-edit", 0.7)
    assert sampler_and_scale(None, None) == (None, None)


def test_the_latent_draw_refuses_a_sampler_that_draws_images():
    from augintae_tf.latent import sample_latents

    z = tf.math.l2_normalize(tf.random.stateless_normal([3, 8], [0, 1]), axis=1)
    with pytest.raises(ValueError, match=r"^sampler 'aug-path' draws images, not latents "):
        sample_latents(z, 4, 0, "aug-path", 1.0)
