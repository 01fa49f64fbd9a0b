"""Few-shot FID protocol: the plan sampler, generation from a plan, random-latent samples."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.latent import l2_normalize, slerp
from augintae_tf.metrics.fewshot import (generate_from_plan, random_latent_samples, sample_fewshot_plan,
                                         sample_gaussian_latents, sample_seeds)

SHAPE = (4, 4, 1)


class StandIn(keras.Model):
    """The model interface with no weights: latent = L2-normalised flat image, decode = reshape.

    Records every encode batch size and every decoded latent so tests can inspect them.
    """

    samplers = ()  # the contract's declaration: no few-shot samplers of its own

    def __init__(self):
        super().__init__()
        self.encoded, self.decoded = [], []

    def has(self, capability):  # the contract's question: it has a latent
        return capability == "latent"

    def encode(self, images):
        self.encoded.append(int(images.shape[0]))
        return l2_normalize(tf.reshape(images, [tf.shape(images)[0], -1]))

    def decode(self, z):
        self.decoded.append(keras.ops.convert_to_numpy(z))
        return tf.reshape(tf.cast(z, tf.float32), (-1,) + SHAPE)

    def interpolate_latents(self, z_a, z_b, alpha):
        return self.decode(slerp(z_a, z_b, alpha))

    def interpolate(self, images_a, images_b, alpha):
        return self.interpolate_latents(self.encode(images_a), self.encode(images_b), alpha)

    def call(self, images):
        return self.decode(self.encode(images))


def make_labels():
    """Classes 0..7 with 12 images, class 8 with 3 (< K), class 9 with 1 (skipped), shuffled."""
    labels = np.concatenate([np.repeat(np.arange(8), 12), [8, 8, 8, 9]])
    return np.random.default_rng(0).permutation(labels)


def test_plan_structure():
    labels = make_labels()
    plan = sample_fewshot_plan(labels, shots=5, num_images=1000, seed=0)
    assert all(len(x) == 1000 for x in plan)
    np.testing.assert_array_equal(plan.alpha[:999], np.tile(np.float32([0.25, 0.5, 0.75]), 333))
    assert plan.alpha[999] == 0.25  # the last path is truncated after its first point
    # the 3 points of a path share their seeds
    for column in (plan.index_a, plan.index_b, plan.class_label):
        triples = column[:999].reshape(333, 3)
        assert (triples == triples[:, :1]).all()
    assert (plan.index_a != plan.index_b).all()
    assert (labels[plan.index_a] == plan.class_label).all()
    assert (labels[plan.index_b] == plan.class_label).all()
    assert 9 not in plan.class_label and set(plan.class_label) == set(range(9))


def test_plan_uses_at_most_k_seeds_per_class():
    labels = make_labels()
    plan = sample_fewshot_plan(labels, shots=5, num_images=3000, seed=1)
    seeds = sample_seeds(labels, shots=5, seed=1)
    for cls in set(plan.class_label.tolist()):
        rows = plan.class_label == cls
        used = set(plan.index_a[rows]) | set(plan.index_b[rows])
        assert used <= set(seeds[cls]) and len(used) <= 5
    assert len(seeds[8]) == 3 and 9 not in seeds  # small classes keep what they have
    # with ~1000 paths over 9 classes, every pair of a 5-seed class shows up
    rows = plan.class_label == 0
    assert len(set(zip(plan.index_a[rows], plan.index_b[rows]))) == 10


def test_plan_is_deterministic_by_seed():
    labels = make_labels()
    a, b = sample_fewshot_plan(labels, seed=3), sample_fewshot_plan(labels, seed=3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.index_a, sample_fewshot_plan(labels, seed=4).index_a)
    assert len(a.alpha) == 5000


def test_plan_errors():
    with pytest.raises(ValueError, match="at least 2 seeds"):
        sample_fewshot_plan(make_labels(), shots=1)
    with pytest.raises(ValueError, match="no class"):
        sample_fewshot_plan(np.arange(10))
    with pytest.raises(ValueError, match="num_images"):
        sample_fewshot_plan(make_labels(), num_images=0)


def test_generate_from_plan_slerps_each_seed_encoded_once():
    labels = make_labels()
    images = np.random.default_rng(0).random((len(labels),) + SHAPE, dtype=np.float32)
    plan = sample_fewshot_plan(labels, shots=5, num_images=100, seed=0)
    model = StandIn()
    out = generate_from_plan(model, images, plan, batch_size=32)
    assert out.shape == (100,) + SHAPE and out.dtype == np.float32
    distinct = len(np.unique(np.concatenate([plan.index_a, plan.index_b])))
    assert sum(model.encoded) == distinct
    flat = images.reshape(len(images), -1)
    expected = slerp(l2_normalize(flat[plan.index_a]), l2_normalize(flat[plan.index_b]), plan.alpha)
    np.testing.assert_allclose(out.reshape(100, -1), expected.numpy(), atol=1e-6)


def test_random_latent_samples_are_decoded_unit_norm_latents():
    train = np.random.default_rng(1).random((50,) + SHAPE, dtype=np.float32)
    model = StandIn()
    samples = random_latent_samples(model, train, n=20, seed=0, batch_size=8)
    assert samples.shape == (20,) + SHAPE
    z = np.concatenate(model.decoded)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(samples, random_latent_samples(StandIn(), train, n=20, seed=0))


def test_gaussian_latents_follow_the_fitted_distribution():
    rng = np.random.default_rng(2)
    # Latents around 5 * e0 that vary only along e1 (N < D: a singular covariance).
    latents = np.zeros((20, 32))
    latents[:, 0], latents[:, 1] = 5.0, rng.normal(size=20)
    z = sample_gaussian_latents(latents, n=500, seed=0)
    assert z.shape == (500, 32) and z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    assert np.abs(z[:, 2:]).max() < 1e-6  # the full covariance keeps samples in the e0-e1 plane
    assert z[:, 0].min() > 0.5 and 0.05 < z[:, 1].std() < 0.5
    np.testing.assert_array_equal(z, sample_gaussian_latents(latents, n=500, seed=0))
