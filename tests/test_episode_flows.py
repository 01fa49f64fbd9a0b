"""benchmarks/episode_flows.py: the margin against a loop, which candidates each row keeps, and
that the utility generators take the other classes from the episode their seed names."""
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import episode_flows  # noqa: E402
from augintae_tf.metrics.fewshot import sample_fewshot_plan, sample_seeds  # noqa: E402
from augintae_tf.metrics.fewshot_utility import episode_split  # noqa: E402


def test_margins_against_a_loop():
    rng = np.random.default_rng(0)
    z, own, others = rng.normal(size=(6, 3)), rng.normal(size=(2, 3)), rng.normal(size=(4, 3))
    want = [min(((v - o) ** 2).sum() for o in others) / min(((v - o) ** 2).sum() for o in own)
            for v in z]
    np.testing.assert_allclose(episode_flows.margins(z, own, others), want, rtol=1e-12)


def test_pick_keeps_the_most_typical_or_the_edge_of_the_own_side():
    m = np.array([0.5, 3.0, 1.2, 0.9, 2.0, 1.05])
    assert list(episode_flows.pick(m, 3, "episode-margin")) == [1, 4, 2]
    assert list(episode_flows.pick(m, 3, "episode-edge")) == [5, 2, 4]  # m > 1, smallest first
    assert list(episode_flows.pick(m, 6, "episode-edge")) == [5, 2, 4, 1, 3, 0]  # then m <= 1


def test_utility_generators_take_the_other_classes_of_the_episode_the_seed_names():
    labels = np.repeat([5, 6, 7], 10)
    images = np.arange(len(labels), dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 2, 1))
    options = SimpleNamespace(shots=2, utility_extra=3)
    seen = []

    def select(seeds, count, seed, others):
        seen.append((seed, sorted(others[:, 0, 0, 0].astype(int))))
        return np.zeros((count, 2, 2, 1))

    gens = episode_flows.utility_generators({"episode-edge": select}, images, labels, options,
                                            plain=None)
    assert set(gens) == {"train-flow", "episode-edge"}
    gens["episode-edge"](None, 4, 2001)  # episode 2, the class at position 1
    episode = episode_split(labels, 2, 3, 2)
    classes = list(episode.seeds)
    want = sorted(np.concatenate([episode.seeds[classes[0]], episode.seeds[classes[2]]]).tolist())
    assert seen == [(2001, want)]


def test_plan_rows_give_each_class_its_own_seeds_and_the_others():
    labels = np.repeat([5, 6, 7], 8)
    images = np.arange(len(labels), dtype=np.float32)[:, None, None, None] / 100 * np.ones((1, 2, 2, 1))
    plan = sample_fewshot_plan(labels, 2, 12, 0)
    seeds = sample_seeds(labels, 2, 0)
    calls = {}

    def select(own, count, seed, others):
        calls[seed] = (sorted(own[:, 0, 0, 0]), sorted(others[:, 0, 0, 0]))
        return np.repeat(own[:1], count, axis=0)

    rows = episode_flows.plan_rows({"episode-margin": select}, images, plan, seeds,
                                   plain=lambda own, count, seed: np.repeat(own[-1:], count, 0))
    for position, cls in enumerate(np.unique(plan.class_label)):
        own, others = calls[position]
        assert own == sorted(images[seeds[cls], 0, 0, 0])
        assert others == sorted(images[np.concatenate([seeds[c] for c in seeds if c != cls]), 0, 0, 0])
        at = plan.class_label == cls
        assert (rows["episode-margin"][at] == images[seeds[cls]][:1]).all()
    assert set(rows) == {"train-flow", "episode-margin"}
