"""The utility metric: episode split, the classifier sets' accuracies on a synthetic task whose
"generated" images are other real images (share ~ 1) or noise (share ~ 0), determinism, the
summary's share and noise flag, the table's rows and the quality table's columns."""
import numpy as np
import pytest

from augintae_tf.metrics.fewshot_utility import (AUGMENTED, REAL, SEEDS, episode_split, fewshot_utility,
                                         summarise, utility_table)

SIZE, CLASSES, MODES = 16, 3, 4


def modal_task(per_mode: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images [n, 16, 16, 1] of 3 classes, each a mixture of 4 distinct random smooth patterns
    (its modes, the same for every ``seed``) plus pixel noise (drawn with ``seed``): K = 2 seeds show at most 2 modes of a class, other real
    images show all four -- so real images add what the seeds lack."""
    coarse = np.random.default_rng(0).random((CLASSES * MODES, 4, 4))  # the same modes always
    rng = np.random.default_rng(seed)
    modes = np.kron(coarse, np.ones((4, 4)))  # 16x16 blocky prototypes
    mode = np.repeat(np.arange(CLASSES * MODES), per_mode)
    images = modes[mode] + rng.normal(0, 0.15, (len(mode), SIZE, SIZE))
    return np.clip(images, 0, 1)[..., None].astype(np.float32), (mode // MODES).astype(np.int32)


def other_real(pool_images, pool_labels):
    """A "generator" returning real images of the seeds' class from a pool the test never sees."""
    def generate(seeds, count, seed):
        label = pool_labels[np.argmin(((pool_images - seeds[:1]) ** 2).sum(axis=(1, 2, 3)))]
        members = np.flatnonzero(pool_labels == label)
        return pool_images[np.random.default_rng(seed).choice(members, count)]
    return generate


def noise(seeds, count, seed):
    return np.random.default_rng(seed).random((count,) + seeds.shape[1:]).astype(np.float32)


FAST = dict(shots=2, extra=24, episodes=1, classifier_seeds=2, steps=100, seed=3)


@pytest.fixture(scope="module")
def result():
    images, labels = modal_task(20, 0)
    pool_images, pool_labels = modal_task(20, 1)  # the same modes, other noise draws
    return fewshot_utility(images, labels, {"real-copy": other_real(pool_images, pool_labels),
                                            "noise": noise}, **FAST)


def test_episode_split_is_disjoint_capped_and_seeded():
    labels = np.repeat(np.arange(3), [10, 12, 30])
    ep = episode_split(labels, shots=2, extra=100, seed=5)
    assert ep.per_class == 4  # min non-seed images 8 -> at most half
    seeds = np.concatenate(list(ep.seeds.values()))
    extra = np.concatenate(list(ep.extra.values()))
    assert len(set(seeds) | set(extra) | set(ep.test)) == len(seeds) + len(extra) + len(ep.test) == 52
    for cls, idx in ep.extra.items():
        assert len(idx) == 4 and np.all(labels[idx] == cls) and np.all(labels[ep.seeds[cls]] == cls)
    again = episode_split(labels, shots=2, extra=100, seed=5)
    assert np.array_equal(again.test, ep.test)
    assert not np.array_equal(episode_split(labels, 2, 100, 6).test, ep.test)
    with pytest.raises(ValueError, match="at least 2 images per class besides the 2 seeds"):
        episode_split(np.repeat(np.arange(2), [3, 10]), shots=2, extra=5, seed=0)


def test_other_real_images_recover_the_real_gain_and_noise_does_not(result):
    rows, counts = result["rows"], result["counts"]
    assert result["order"] == [SEEDS, "real-copy", "noise", REAL]
    assert counts["classes"] == 3 and counts["extra_per_class"] == 24
    assert counts["test_images"] == 3 * (80 - 2 - 24)
    a, d = rows[SEEDS]["mean"], rows[REAL]["mean"]
    assert d - a > 0.15 and not rows[REAL]["noisy"]  # the seeds miss modes; real images show them
    assert rows["real-copy"]["mean"] == pytest.approx(d, abs=0.08)
    assert rows["real-copy"]["share"] == pytest.approx(1.0, abs=0.3)
    assert rows["noise"]["share"] < 0.3
    assert rows[REAL]["share"] == pytest.approx(1.0)
    for row in rows.values():
        assert len(row["runs"]) == 2 and row["std"] is not None and row["ci95"] >= 0


def test_the_same_seed_gives_the_same_accuracies(result):
    images, labels = modal_task(20, 0)
    again = fewshot_utility(images, labels, {"noise": noise}, **{**FAST, "classifier_seeds": 1})
    assert again["rows"]["noise"]["runs"][0] == result["rows"]["noise"]["runs"][0]
    assert again["rows"][SEEDS]["runs"][0] == result["rows"][SEEDS]["runs"][0]


def test_summary_share_interval_and_noise_flag_against_hand_values():
    rows = summarise({SEEDS: [0.5, 0.6], "m": [0.6, 0.7], REAL: [0.9, 1.0]})
    assert rows["m"]["share"] == pytest.approx((0.65 - 0.55) / (0.95 - 0.55))
    assert rows[SEEDS]["std"] == pytest.approx(np.std([0.5, 0.6], ddof=1))
    assert rows[SEEDS]["ci95"] == pytest.approx(12.706 * np.std([0.5, 0.6], ddof=1) / np.sqrt(2))
    assert rows["m"]["noisy"] is False  # every paired gain is 0.4: no spread
    noisy = summarise({SEEDS: [0.5, 0.7, 0.6], "m": [0.6] * 3, REAL: [0.7, 0.5, 0.65]})
    assert noisy["m"]["noisy"] is True and "share" not in noisy[SEEDS]
    assert summarise({SEEDS: [0.5], "m": [0.6], REAL: [0.5]})["m"]["share"] is None


def test_table_rows_are_labelled_in_order_with_a_noise_mark():
    runs = {SEEDS: [0.5, 0.7, 0.6], "aug": [0.6] * 3, AUGMENTED: [0.6] * 3, REAL: [0.7, 0.5, 0.65]}
    result = {"rows": summarise(runs), "order": list(runs),
              "counts": {"classes": 5, "shots": 5, "extra_per_class": 80, "test_images": 400,
                         "episodes": 1, "classifier_seeds": 3, "steps": 300}}
    lines = utility_table(result).splitlines()
    assert lines[0].startswith("utility: 5-way 5-shot") and "400 real images" in lines[0]
    assert "1 episodes x 3 classifier seeds = 3 runs" in lines[0]
    body = [line.split(" | ")[0].lstrip("| ") for line in lines[4:8]]
    assert body == ["(a) the seeds alone", "(b) seeds + aug",
                    "(c) seeds + augmented copies of the seeds",
                    "(d) seeds + other real images (the ceiling)"]
    assert lines[5].endswith("| 0.600 +- 0.000 | +- 0.000 | 0.00* |")
    assert lines[-1] == "* the real images' own gain (d - a) is within noise: shares mean little"


def test_quality_table_shows_utility_beside_fd_and_realism():
    from augintae_tf.evaluation.utility import add_utility
    from augintae_tf.metrics.quality_table import quality_table

    runs = {SEEDS: [0.5, 0.6], "model": [0.6, 0.7], AUGMENTED: [0.55, 0.6], REAL: [0.9, 1.0]}
    utility = {"rows": summarise(runs), "order": list(runs),
               "counts": {"classes": 2, "shots": 5, "extra_per_class": 10, "test_images": 40,
                          "episodes": 1, "classifier_seeds": 2, "steps": 10}}
    rows = {name: {"images": 6, "fd": 1.0, "realism": 0.6}
            for name in ("model", "floor", "seed_copies", "seed_augmented", "crossfade")}
    quality = {"rows": rows, "counts": {"classes": 2, "seeds_per_class": 5, "images": 6,
                                        "comparison_images": 10, "floor_images": 10, "k": 3}}
    add_utility(quality, utility)
    assert rows["model"]["utility"] == pytest.approx(0.65)
    assert rows["seed_copies"]["utility"] == pytest.approx(0.55)
    assert rows["floor"]["utility"] == pytest.approx(0.95) and "utility" not in rows["crossfade"]
    table = quality_table(quality)
    assert "| set | n | FD | realism | utility | util share |" in table
    assert "| model | 6 | 1.000 | 0.600 | 0.650 | 0.25 |" in table
    assert "| pixel cross-fade of the seeds (no model) | 6 | 1.000 | 0.600 | - | - |" in table
    assert "(a) the seeds alone" in table
