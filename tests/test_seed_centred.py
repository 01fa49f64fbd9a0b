"""benchmarks/seed_centred.py: which real images stand for a perfect seed-centred sampler -- the
half nearest the seeds or a random half, tiled to a count -- in the quality plan and in each
utility episode."""
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import seed_centred  # noqa: E402
from augintae_tf.metrics.fewshot import sample_fewshot_plan, sample_seeds  # noqa: E402
from augintae_tf.metrics.fewshot_utility import episode_split  # noqa: E402
from augintae_tf.metrics.reference_rows import real_split  # noqa: E402


def test_nearest_seed_rms_against_a_loop():
    rng = np.random.default_rng(0)
    candidates, seeds = rng.random((7, 4, 4, 1)), rng.random((3, 4, 4, 1))
    want = [min(np.sqrt(((c - s) ** 2).mean()) for s in seeds) for c in candidates]
    np.testing.assert_allclose(seed_centred.nearest_seed_rms(candidates, seeds), want, rtol=1e-9)


def test_half_keeps_the_nearest_or_a_random_half_and_tiled_repeats_evenly():
    seeds = np.zeros((1, 2, 2, 1))
    pool = np.arange(5, dtype=float)[:, None, None, None] * np.ones((5, 2, 2, 1))
    pool = pool[[3, 0, 4, 1, 2]]  # distances to the seed 3, 0, 4, 1, 2
    rng = np.random.default_rng(0)
    assert list(seed_centred.half(pool, seeds, True, rng)) == [1, 3, 4]
    random_half = seed_centred.half(pool, seeds, False, rng)
    assert len(random_half) == 3 and len(set(random_half)) == 3
    items = seed_centred.tiled(np.array([7, 8, 9]), 8, np.random.default_rng(1))
    counts = np.bincount(items, minlength=10)[7:]
    assert sorted(counts) == [2, 3, 3]


def _labelled(n_per_class=12, classes=(5, 6, 7), size=6, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.asarray(classes), n_per_class)
    images = rng.random((len(labels), size, size, 1)).astype(np.float32)
    return images, labels


def test_quality_rows_come_from_the_floor_of_their_class_and_the_near_half_is_nearer():
    images, labels = _labelled()
    plan = sample_fewshot_plan(labels, 3, 60, 0)
    seeds = sample_seeds(labels, 3, 0)
    split = real_split(labels, plan, seed=0, seeds=seeds)
    rows = seed_centred.quality_rows(images, labels, plan, split, seeds)
    flat = images.reshape(len(images), -1)
    for name in ("real near seeds", "real random half"):
        got = rows[name].reshape(len(plan.alpha), -1)
        index = [int(np.flatnonzero((flat == g).all(1))[0]) for g in got]
        assert set(index) <= set(split.floor.tolist())
        assert (labels[index] == plan.class_label).all()
    for cls in np.unique(plan.class_label):
        at = plan.class_label == cls
        near = seed_centred.nearest_seed_rms(rows["real near seeds"][at], images[seeds[cls]])
        pool = split.floor[labels[split.floor] == cls]
        every = np.sort(seed_centred.nearest_seed_rms(images[pool], images[seeds[cls]]))
        assert near.max() <= every[-(-len(pool) // 2) - 1] + 1e-12


def test_utility_generators_draw_from_the_episodes_real_extras():
    images, labels = _labelled(n_per_class=20)
    options = SimpleNamespace(shots=3, utility_extra=6, seed=0)
    gens = seed_centred.utility_generators(images, labels, options)
    episode = episode_split(labels, 3, 6, 1)  # episode 1 of seed 0
    flat = images.reshape(len(images), -1)
    for position, (cls, idx) in enumerate(episode.seeds.items()):
        for name, generate in gens.items():
            out = generate(images[idx], episode.per_class, 1000 * 1 + position)
            index = {int(np.flatnonzero((flat == o.reshape(-1)).all(1))[0]) for o in out}
            assert index <= set(episode.extra[cls].tolist()), name
            assert len(index) == -(-episode.per_class // 2), name


def test_figure_shows_the_seeds_then_each_rows_first_images_per_class(tmp_path):
    from PIL import Image

    from augintae_tf.images import save_labelled_grid

    images, labels = _labelled(classes=(5, 6, 7, 8))
    plan = sample_fewshot_plan(labels, 3, 80, 0)
    seeds = sample_seeds(labels, 3, 0)
    split = real_split(labels, plan, seed=0, seeds=seeds)
    rows = seed_centred.quality_rows(images, labels, plan, split, seeds)
    got = seed_centred.figure(tmp_path / "f.png", rows, images, plan, seeds, classes=2, num=4)
    want_rows, titles = [], []
    for cls in (5, 7):  # two of four classes, spread over the sorted labels
        at = np.flatnonzero(plan.class_label == cls)[:4]
        want_rows += [images[seeds[cls]], rows["real near seeds"][at],
                      rows["real random half"][at]]
        titles += [f"class {cls}: the 3 seeds", "real near seeds", "real random half"]
    want = save_labelled_grid(tmp_path / "want.png", want_rows, titles, upscale=2)
    np.testing.assert_array_equal(np.asarray(Image.open(got)), np.asarray(Image.open(want)))
