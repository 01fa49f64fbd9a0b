"""DAGAN draws its seed's class (issue 41): a tiny DAGAN trained for a few seconds on three
trivially separable synthetic classes, judged by an independent nearest-class-mean classifier
fitted on real images only."""
import numpy as np
import tensorflow as tf

from conftest import build_small, small_model_config

SIZE = 12
# class c: a Gaussian blob whose centre lies near CENTRES[c] (fractions of the side)
CENTRES = ((0.3, 0.3), (0.3, 0.7), (0.72, 0.5))


def blob_classes(per_class: int, seed: int):
    """``(images [3 * per_class, 12, 12, 1] float32 in [0, 1], labels)``: a blob per image,
    centre jittered by +-1 px around its class's spot, radius 1.2-2 px."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    images, labels = [], []
    for c, (cy, cx) in enumerate(CENTRES):
        centre = np.array([cy, cx]) * SIZE + rng.uniform(-1, 1, (per_class, 2))
        radius = rng.uniform(1.2, 2.0, (per_class, 1, 1))
        d2 = ((yy - centre[:, :1, None]) ** 2 + (xx - centre[:, 1:, None]) ** 2)
        images.append(np.exp(-d2 / (2 * radius ** 2)))
        labels += [c] * per_class
    return np.concatenate(images)[..., None].astype(np.float32), np.array(labels)


def nearest_mean(images, labels):
    """A nearest-class-mean classifier on pixels (fitted on real images; knows no model)."""
    means = np.stack([images[labels == c].mean(0).ravel() for c in np.unique(labels)])
    return lambda x: np.argmin(((x.reshape(len(x), 1, -1) - means) ** 2).sum(-1), axis=1)


def same_class_pairs(images, labels, num_pairs: int, rng):
    """``[num_pairs, 2, S, S, 1]``: (an image, another image of its class)."""
    pairs = []
    for _ in range(num_pairs):
        members = np.flatnonzero(labels == rng.integers(len(CENTRES)))
        pairs.append(images[rng.choice(members, 2, replace=False)])
    return np.stack(pairs)


def test_dagan_images_show_their_seeds_class():
    train_x, train_y = blob_classes(40, seed=0)
    held_x, held_y = blob_classes(10, seed=1)
    classify = nearest_mean(train_x, train_y)
    assert (classify(held_x) == held_y).mean() == 1.0  # the classes are trivially separable
    cfg = small_model_config("dagan", size=SIZE)
    cfg.train.seed = 0
    model = build_small(cfg, steps=300)
    step = tf.function(model.train_step)
    rng = np.random.default_rng(0)
    for _ in range(300):  # 60 generator updates at the 5:1 schedule
        pairs = same_class_pairs(train_x, train_y, 16, rng)
        step((tf.constant(pairs), tf.zeros([16], tf.int32)))
    hits = []
    for c in range(len(CENTRES)):  # seeds: held-out instances of each training class
        seeds = held_x[held_y == c][:5]
        generated = model.fewshot(tf.constant(seeds), 40, seed=c).numpy()
        assert generated.shape == (40, SIZE, SIZE, 1)
        hits.append((classify(generated) == c).mean())
    assert min(hits) >= 0.8, f"share judged the seeds' class, per class: {hits}"
