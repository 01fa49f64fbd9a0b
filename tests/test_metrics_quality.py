"""Few-shot quality with reference rows: reference image sets, the real split, k-NN precision/recall
and density/coverage, nearest-seed distance, the realism two-sample test, the rows and the table."""
import numpy as np
import pytest

from augintae_tf.metrics.double_exposure import double_exposures
from augintae_tf.metrics.fewshot import FewShotPlan, sample_fewshot_plan, sample_seeds
from augintae_tf.metrics.frechet import frechet_distance_from_activations
from augintae_tf.metrics.manifold import (knn_radii, nearest_seed_distance, pairwise_distances,
                                          precision_recall_density_coverage)
from augintae_tf.metrics.fewshot_quality import METRICS, fewshot_quality
from augintae_tf.metrics.quality_table import quality_table
from augintae_tf.metrics.realism import balanced_split, realism_accuracy
from augintae_tf.metrics.reference_rows import (REFERENCE_ROWS, nearer_seed, pixel_crossfade,
                                                real_split, seed_copies)

SIZE = 12


def blobs(n: int, seed: int, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Images [n, 12, 12, 1]: a bright Gaussian blob whose centre depends on the class, jittered."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    centres = np.stack([3 + 6 * (labels % 2), 3 + 6 * (labels // 2 % 2)], 1) + rng.normal(0, 1, (n, 2))
    grid = np.stack(np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij"), -1)
    d2 = ((grid[None] - centres[:, None, None]) ** 2).sum(-1)
    width = rng.uniform(1.5, 2.5, (n, 1, 1))
    return np.exp(-d2 / (2 * width ** 2))[..., None].astype(np.float32), labels.astype(np.int32)


def pooled(images) -> np.ndarray:
    """A fixed feature map: 3x3 average pooling -> 16 features."""
    images = np.asarray(images)
    return images.reshape(len(images), 4, 3, 4, 3).mean(axis=(2, 4)).reshape(len(images), 16)


# ---------------------------------------------------------------- reference image sets, split

def test_crossfade_and_copies_are_exact_on_hand_made_rows():
    images = np.stack([np.full((2, 2, 1), v, np.float32) for v in (0.0, 0.2, 1.0)])
    plan = FewShotPlan(index_a=np.array([0, 0, 1, 0]), index_b=np.array([2, 2, 2, 1]),
                       alpha=np.float32([1.0, 0.0, 0.25, 0.5]), class_label=np.zeros(4, np.int32))
    fade = pixel_crossfade(images, plan)
    np.testing.assert_array_equal(fade[0], images[0])  # alpha 1 is the first seed itself
    np.testing.assert_array_equal(fade[1], images[2])  # alpha 0 the second
    np.testing.assert_allclose(fade[2], np.full((2, 2, 1), 0.25 * 0.2 + 0.75 * 1.0), rtol=1e-6)
    np.testing.assert_allclose(fade[3], np.full((2, 2, 1), 0.1), rtol=1e-6)
    np.testing.assert_array_equal(nearer_seed(plan), [0, 2, 2, 0])  # ties (0.5) go to index_a
    np.testing.assert_array_equal(seed_copies(images, plan), images[[0, 2, 2, 0]])


def test_real_split_is_disjoint_seed_free_and_covers_the_plan_classes():
    labels = np.repeat(np.arange(5), 11)  # class 4 is not in the plan below
    plan = sample_fewshot_plan(labels[labels < 4], shots=5, num_images=60, seed=3)
    seeds = sample_seeds(labels[labels < 4], 5, 3)
    split = real_split(labels, plan, seeds=seeds, seed=1)
    np.testing.assert_array_equal(split.seeds, np.sort(np.concatenate(list(seeds.values()))))
    everything = np.concatenate([split.seeds, split.comparison, split.floor])
    assert len(np.unique(everything)) == len(everything) == 44  # disjoint, all of classes 0-3
    for cls in range(4):
        assert np.sum(labels[split.comparison] == cls) == 3 and np.sum(labels[split.floor] == cls) == 3
    assert set(labels[everything]) == {0, 1, 2, 3}
    again = real_split(labels, plan, seeds=split.seeds, seed=1)  # array form, same result
    assert all(np.array_equal(x, y) for x, y in zip(split, again))
    other = real_split(labels, plan, seeds=seeds, seed=2)
    assert not np.array_equal(split.comparison, other.comparison)


# ---------------------------------------------------------------- manifold metrics

def brute_force_prdc(real, fake, k):
    """Explicit loops over points: sorted neighbour lists, closed balls."""
    def dist(p, q):
        return sum((a - b) ** 2 for a, b in zip(p, q)) ** 0.5

    def radius(points, i):
        return sorted(dist(points[i], q) for j, q in enumerate(points) if j != i)[k - 1]

    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    precision = sum(any(dist(y, x) <= r for x, r in zip(real, r_real)) for y in fake) / len(fake)
    recall = sum(any(dist(x, y) <= r for y, r in zip(fake, r_fake)) for x in real) / len(real)
    density = sum(sum(dist(y, x) <= r for x, r in zip(real, r_real)) for y in fake) / (k * len(fake))
    coverage = sum(min(dist(x, y) for y in fake) <= r for x, r in zip(real, r_real)) / len(real)
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.mark.parametrize("k", [1, 3])
def test_prdc_matches_a_brute_force_reference_on_2d_points(k):
    rng = np.random.default_rng(k)
    real = rng.normal(0, 1, (23, 2))
    fake = np.concatenate([rng.normal(0.7, 0.5, (15, 2)), rng.normal(3, 0.2, (4, 2))])
    expected = brute_force_prdc(real.tolist(), fake.tolist(), k)
    got = precision_recall_density_coverage(real, fake, k)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == pytest.approx(expected[name], abs=1e-12), name
    assert 0 < got["precision"] < 1 and 0 < got["coverage"] < 1  # the case is not degenerate


def test_prdc_hand_computed_1d_case():
    # real 0,1,2,3 with k=1: every radius is 1.  fake 0.5 sits in the balls of 0 and 1; 10 in none.
    # fake radii (k=1): 9.5 each, so the outlier's huge ball reaches every real point -> recall 1.
    real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [10.0]])
    np.testing.assert_array_equal(knn_radii(real, 1), [1, 1, 1, 1])
    got = precision_recall_density_coverage(real, fake, k=1)
    assert got == {"precision": 0.5, "recall": 1.0, "density": 1.0, "coverage": 0.5}


def test_copies_of_the_real_set_have_precision_and_coverage_one():
    real = np.random.default_rng(0).normal(size=(40, 5))
    got = precision_recall_density_coverage(real, real.copy(), k=3)
    assert got["precision"] == 1.0 and got["coverage"] == 1.0 and got["recall"] == 1.0
    assert got["density"] >= 1.0  # each copy is in its own ball, plus those of its neighbours
    # a copy of ONE real point: perfectly precise, covers almost nothing
    one = np.repeat(real[:1], 10, 0)
    few = precision_recall_density_coverage(real, one, k=3)
    # the copies' own radii are 0, so recall counts only the copied point itself
    assert few["precision"] == 1.0 and few["recall"] == 1 / 40 and few["coverage"] < 0.5
    assert few == pytest.approx(brute_force_prdc(real.tolist(), one.tolist(), 3), abs=1e-12)


def test_pairwise_distances_are_exact_and_chunked(monkeypatch):
    import augintae_tf.metrics.manifold as manifold

    a, b = np.random.default_rng(1).normal(size=(7, 3)), np.random.default_rng(2).normal(size=(5, 3))
    monkeypatch.setattr(manifold, "_CHUNK_ELEMENTS", 20)  # forces one row per chunk
    expected = [[np.sqrt(((x - y) ** 2).sum()) for y in b] for x in a]
    np.testing.assert_allclose(pairwise_distances(a, b), expected, rtol=1e-14)
    assert (np.diag(pairwise_distances(a, a)) == 0).all()
    with pytest.raises(ValueError, match="feature sizes differ: 3 vs 2"):
        pairwise_distances(a, b[:, :2])
    with pytest.raises(ValueError, match=r"k-NN radii need 1 <= k < number of samples, got k=5 for 5"):
        knn_radii(b, 5)


def test_nearest_seed_distance_hand_case_and_copies():
    seeds = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 10.0]])
    seed_labels = np.array([1, 1, 2])
    generated = np.array([[3.0, 0.0], [0.0, 0.0], [0.0, 7.0], [4.0, 0.0]])
    labels = np.array([1, 1, 2, 2])  # the last sits on a class-1 seed but is class 2
    np.testing.assert_allclose(nearest_seed_distance(generated, labels, seeds, seed_labels),
                               [1.0, 0.0, 3.0, np.hypot(4.0, 10.0)])
    with pytest.raises(ValueError, match="class 3 has generated rows but no seed"):
        nearest_seed_distance(generated, [1, 1, 2, 3], seeds, seed_labels)


# ---------------------------------------------------------------- realism

def test_realism_separates_trivial_sets_and_not_halves_of_one_distribution():
    images, _ = blobs(1200, seed=0)
    half_a, half_b = images[:600], images[600:]
    same = realism_accuracy(half_a, half_b, seed=0, epochs=3)
    # 200 held-out images per side: under "indistinguishable" the accuracy's sd is ~0.025
    assert abs(same - 0.5) < 0.1
    assert realism_accuracy(half_a, np.zeros_like(half_b), seed=0, epochs=3) > 0.9
    assert realism_accuracy(half_a, half_b, seed=0, epochs=3) == same  # deterministic for a seed


def test_realism_balances_and_holds_out_per_side():
    real_train, real_test, fake_train, fake_test = balanced_split(50, 20, 0.25, seed=0)
    assert len(real_train) == len(fake_train) == 15 and len(real_test) == len(fake_test) == 5
    assert len(set(real_train) | set(real_test)) == 20 and max(real_train.max(), real_test.max()) < 50
    with pytest.raises(ValueError, match="needs at least 2 images on each side, got 5 real and 1 generated"):
        realism_accuracy(np.zeros((5, 4, 4, 1)), np.zeros((1, 4, 4, 1)))


# ---------------------------------------------------------------- rows and table

@pytest.fixture(scope="module")
def scored():
    images, labels = blobs(160, seed=5)  # 4 classes x 40
    plan = sample_fewshot_plan(labels, shots=5, num_images=120, seed=0)
    seeds = sample_seeds(labels, 5, 0)
    result = fewshot_quality({"model": seed_copies(images, plan), "blur": pixel_crossfade(images, plan)},
                             plan, images, labels, pooled, classify_fn=lambda x: np.zeros(len(x), int),
                             seeds=seeds, seed=0, realism_epochs=2, k=3)
    return images, labels, plan, seeds, result


def test_rows_structure_and_counts(scored):
    _, _, _, _, result = scored
    # without an augment_fn there is no augmented-copies row
    assert list(result["rows"]) == ["model", "blur",
                                    *(r for r in REFERENCE_ROWS if r != "seed_augmented")]
    for row in result["rows"].values():
        assert list(row) == ["images", *METRICS]
    assert result["counts"] == {"classes": 4, "seeds_per_class": 5, "seeds": 20, "images": 120,
                                "comparison_images": 72, "floor_images": 68, "k": 3, "realism_epochs": 2,
                                "realism_min_steps": 60, "double_exposure_ratio": 0.5,
                                "double_exposure_shift": 2}
    assert result["rows"]["floor"]["images"] == 68 and result["rows"]["model"]["images"] == 120
    assert list(result["per_class"]["floor"]) == [0, 1, 2, 3]


def test_model_rows_are_scored_exactly_like_the_reference_rows(scored):
    _, _, _, _, result = scored
    # the "model" is the seed copies and "blur" the cross-fade: same images, same comparison set
    assert result["rows"]["model"] == result["rows"]["seed_copies"]
    assert result["rows"]["blur"] == result["rows"]["crossfade"]
    assert result["per_class"]["model"] == result["per_class"]["seed_copies"]


def test_row_values_against_independent_computations(scored):
    images, labels, plan, seeds, result = scored
    split = real_split(labels, plan, seeds=seeds, seed=0)
    copies, comparison = result["rows"]["seed_copies"], images[split.comparison]
    assert copies["seed_distance"] == 0.0 and copies["seed_distance_px"] == 0.0
    assert copies["fd"] == pytest.approx(frechet_distance_from_activations(
        pooled(seed_copies(images, plan)), pooled(comparison)), rel=1e-12)
    floor = result["rows"]["floor"]
    assert floor["fd"] == pytest.approx(frechet_distance_from_activations(
        pooled(images[split.floor]), pooled(comparison)), rel=1e-12)
    assert floor["class_accuracy"] == pytest.approx(0.25)  # the stand-in classifier always says 0
    assert floor["seed_distance"] > 0 and result["rows"]["crossfade"]["seed_distance"] > 0
    one = result["per_class"]["crossfade"][2]
    mine, theirs = plan.class_label == 2, labels[split.comparison] == 2
    expected = brute_force_prdc(pooled(comparison[theirs]).tolist(),
                                pooled(pixel_crossfade(images, plan)[mine]).tolist(), 3)
    for name, value in expected.items():
        assert one[name] == pytest.approx(value, abs=1e-12), name
    means = np.mean([v["precision"] for v in result["per_class"]["crossfade"].values()])
    assert result["rows"]["crossfade"]["precision"] == pytest.approx(means)
    # held-out real vs held-out real: FD well below the copies', realism near chance (withheld
    # where the cross-fade of blobs was not told apart either: guard_realism)
    realism = {**floor, **result.get("withheld", {}).get("values", {}).get("floor", {})}["realism"]
    assert floor["fd"] < copies["fd"] and abs(realism - 0.5) < 0.2


def test_double_exposure_column_against_the_metric_on_each_rows_class_seeds(scored):
    images, labels, plan, seeds, result = scored
    split = real_split(labels, plan, seeds=seeds, seed=0)
    sets = {"floor": (images[split.floor], labels[split.floor]),
            "crossfade": (pixel_crossfade(images, plan), plan.class_label)}
    for name, (array, row_labels) in sets.items():
        flags = double_exposures(array, row_labels, images[split.seeds], labels[split.seeds])
        assert result["rows"][name]["double_exposure"] == pytest.approx(flags.mean())
        for cls, values in result["per_class"][name].items():
            assert values["double_exposure"] == pytest.approx(flags[row_labels == cls].mean())
    assert result["rows"]["seed_copies"]["double_exposure"] == 0.0  # e1 = 0: nothing to halve
    assert result["rows"]["crossfade"]["double_exposure"] > 0.9
    assert result["rows"]["blur"]["double_exposure"] == result["rows"]["crossfade"]["double_exposure"]
    table = quality_table(result, per_class=True)
    assert "double exp |" in table and "(shifts up to 2 px)" in table


def test_fewshot_quality_rejects_bad_input():
    images, labels = blobs(40, seed=1)
    plan = sample_fewshot_plan(labels, shots=3, num_images=12, seed=0)
    with pytest.raises(ValueError, match=r"generated set 'model' must be one image per plan row, "
                                         r"\(12, 12, 12, 1\), got \(11, 12, 12, 1\)"):
        fewshot_quality(images[:11], plan, images, labels, pooled)
    with pytest.raises(ValueError, match="generated set name 'floor' clashes with a reference row"):
        fewshot_quality({"floor": images[:12]}, plan, images, labels, pooled)


def test_quality_table_prints_every_row_and_skips_missing_columns():
    row = {"images": 10, "fd": 432.4, "fd_class_mean": None, "precision": 0.5, "recall": 0.25,
           "density": 1.25, "coverage": 1.0, "seed_distance": 12.345, "seed_distance_px": 0.0,
           "realism": 0.975}
    result = {"rows": {"model": row, "floor": {**row, "images": 7}},
              "per_class": {"model": {3: {"images": 10, "fd": 1.0}}, "floor": {3: {"images": 7, "fd": 2.0}}},
              "counts": {"classes": 1, "seeds_per_class": 5, "seeds": 5, "images": 10,
                         "comparison_images": 8, "floor_images": 7, "k": 3, "realism_epochs": 5}}
    assert quality_table(result, per_class=True) == (
        "1 classes, 5 seeds per class, 10 generated images; scored against 8 held-out real images "
        "(floor: 7 others); k = 3; realism 0.5 = indistinguishable\n\n"
        "| set | n | FD | FD per class | precision | recall | density | coverage | seed dist | "
        "seed dist px | realism |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
        "| model | 10 | 432 | - | 0.500 | 0.250 | 1.250 | 1.000 | 12.3 | 0.000 | 0.975 |\n"
        "| floor: held-out real images | 7 | 432 | - | 0.500 | 0.250 | 1.250 | 1.000 | 12.3 | 0.000 "
        "| 0.975 |\n\n"
        "| class | set | n | FD |\n|---|---|---|---|\n| 3 | model | 10 | 1.000 |\n| 3 | floor | 7 | 2.000 |\n")
