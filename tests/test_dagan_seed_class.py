"""DAGAN draws its seed's class (issue 41): a tiny DAGAN trained for a few seconds on three
trivially separable synthetic classes, judged by an independent nearest-class-mean classifier
fitted on real images only.

Seeds come from held-out instances of the three training classes and from a fourth class it
never saw.  The U-Net generator (skip connections, spatial maps) keeps the seed's blob where it
is; the model before issue 41 (an FC code between encoder and decoder) drew the training
classes' blobs right and turned every fourth-class seed into a training class (0 of 40)."""
import numpy as np
import tensorflow as tf

from conftest import build_small, small_model_config

SIZE = 12
# class c: a Gaussian blob whose centre lies near CENTRES[c] (fractions of the side); the last
# class is never trained on
CENTRES = ((0.3, 0.3), (0.3, 0.7), (0.7, 0.3), (0.7, 0.7))
TRAINED = 3


def blob_classes(per_class: int, seed: int):
    """``(images [4 * per_class, 12, 12, 1] float32 in [0, 1], labels)``: a blob per image,
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
        members = np.flatnonzero(labels == rng.choice(np.unique(labels)))
        pairs.append(images[rng.choice(members, 2, replace=False)])
    return np.stack(pairs)


def test_dagan_images_show_their_seeds_class():
    real_x, real_y = blob_classes(40, seed=0)
    held_x, held_y = blob_classes(10, seed=1)
    classify = nearest_mean(real_x, real_y)
    assert (classify(held_x) == held_y).mean() == 1.0  # the classes are trivially separable
    cfg = small_model_config("dagan", size=SIZE)
    cfg.train.seed, cfg.model.critic_updates = 0, 5  # the authors' 5:1, as measured
    model = build_small(cfg, steps=200)
    step = tf.function(model.train_step)
    rng = np.random.default_rng(0)
    trained = real_y < TRAINED
    for _ in range(200):  # 40 generator updates at the 5:1 schedule
        pairs = same_class_pairs(real_x[trained], real_y[trained], 16, rng)
        step((tf.constant(pairs), tf.zeros([16], tf.int32)))
    hits = []
    for c in range(len(CENTRES)):  # 5 held-out seeds per class
        generated = model.fewshot(tf.constant(held_x[held_y == c][:5]), 40, seed=c).numpy()
        assert generated.shape == (40, SIZE, SIZE, 1)
        hits.append(float((classify(generated) == c).mean()))
    assert min(hits[:TRAINED]) >= 0.8, f"training classes, share judged the seeds' class: {hits}"
    assert hits[TRAINED] >= 0.8, f"a class it never trained on, judged the seeds' class: {hits}"
