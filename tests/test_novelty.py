"""The novelty line: pixel-RMS distances, the within-class spread reference, the line's verdicts
for copies and for real other images, the seed-domain wording per sampler, and the line through
the latent-stats stage, `Run.generate`, `generate` and an export's metadata."""
import json

import numpy as np
import pytest

from augintae_tf.metrics.novelty import (CLOSE, Novelty, nearest_seed_distances, novelty,
                                         rms_distances, spread_for, within_class_spread)
from augintae_tf.models.latent_stats import SeedDomain
from augintae_tf.run.artifacts import read_arrays
from conftest import random_weight_run

SIZE = 12


def classes_task(classes: int, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images [n, 12, 12, 1]: a random prototype per class plus per-image noise and a random
    brightness, so that instances of a class differ as much as in every class."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((classes, SIZE, SIZE, 1))
    labels = np.repeat(np.arange(classes), per_class)
    images = prototypes[labels] * rng.uniform(0.7, 1.0, (len(labels), 1, 1, 1))
    images = images + rng.normal(0, 0.1, images.shape)
    return np.clip(images, 0, 1).astype(np.float32), labels.astype(np.int32)


def test_rms_distances_match_a_direct_computation():
    rng = np.random.default_rng(0)
    a, b = rng.random((4, 3, 3, 2)), rng.random((5, 3, 3, 2))
    direct = np.array([[np.sqrt(np.mean((x - y) ** 2)) for y in b] for x in a])
    np.testing.assert_allclose(rms_distances(a, b), direct, atol=1e-9)
    np.testing.assert_allclose(nearest_seed_distances(a, b), direct.min(1), atol=1e-9)
    assert rms_distances(a, a).diagonal() == pytest.approx(np.zeros(4), abs=1e-6)


def test_spread_of_pairs_is_their_distance_and_shrinks_with_more_others():
    images = np.stack([np.full((2, 2, 1), v, np.float32) for v in (0.0, 0.2, 0.5, 0.9)])
    ref = within_class_spread(images, np.array([0, 0, 1, 1]))
    assert ref["spread"] == pytest.approx([np.median([0.2, 0.2, 0.4, 0.4])])  # one other each
    assert ref["classes"] == 2 and ref["images"] == 4 and ref["units"] == "pixel RMS"
    assert within_class_spread(images, np.arange(4)) is None  # no class with two images
    many = within_class_spread(*classes_task(3, 40, 0))
    assert len(many["spread"]) == 20 and np.all(np.diff(many["spread"]) <= 1e-12)
    assert spread_for(many, 5) == many["spread"][4] and spread_for(many, 99) == many["spread"][-1]
    assert spread_for(None, 5) is None


def test_copies_read_zero_and_close_to_copies():
    images, labels = classes_task(4, 30, 1)
    reference = within_class_spread(images, labels)
    seeds = images[:5]
    found = novelty(np.concatenate([seeds] * 4), seeds, reference)
    assert found.distance == pytest.approx(0, abs=1e-6) and found.ratio == pytest.approx(0, abs=1e-5)
    assert found.close_to_copies and found.line().endswith("these are close to copies of the seeds")
    assert "median distance to the nearest seed 0.000 (pixel RMS, 20 images, 5 seeds) = 0.00x" \
           in found.line()


def test_other_real_images_of_a_class_read_about_one():
    train, train_labels = classes_task(6, 40, 2)  # the training classes
    reference = within_class_spread(train, train_labels)
    novel, novel_labels = classes_task(1, 200, 3)  # an unseen class, as varied
    seeds, others = novel[:5], novel[5:]
    found = novelty(others, seeds, reference)
    assert 0.8 <= found.ratio <= 1.25, found.ratio
    assert not found.close_to_copies
    assert found.line().endswith("about as far from the seeds as new real instances of a class")
    data = found.as_dict()
    assert data["within_class_spread"] == pytest.approx(reference["spread"][4])
    assert data["ratio"] == pytest.approx(found.distance / reference["spread"][4])


def test_unknown_spread_says_why():
    line = Novelty(0.05, 5, 10, None, "the run has no latent statistics").line()
    assert line.endswith("against the training classes' within-class spread: unknown (the run "
                         "has no latent statistics)")
    assert Novelty(0.05, 5, 10, 0.1).ratio == pytest.approx(CLOSE)


def test_seed_domain_warning_says_what_the_sampler_makes():
    outside = SeedDomain(0.035, 0.0013, 1.0, True)
    assert "expect near-copies of the seeds with small edits" in outside.line("local-edit")
    assert "blob" not in outside.line("local-edit")
    for sampler in (None, "slerp", "local", "convex"):
        assert "expect blurred or blob-like images" in outside.line(sampler)
    assert outside.line("local-edit").endswith(
        "; a model trained on images like these seeds (add some to a training folder, "
        "`augintae-tf train --dataset DIR`) reconstructs and edits them in their own "
        "style")
    assert SeedDomain(0.003, 0.002, 0.5, False).line("local-edit").endswith(
        "the seeds look like the training domain")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run with one checkpoint of a tiny augintae (random weights) and latent statistics whose
    within-class spread comes from labelled images."""
    train, labels = classes_task(4, 30, 4)
    return random_weight_run(tmp_path_factory.mktemp("run"), SIZE, 8, train, train[:16], labels)


def test_stage_stores_the_spread_and_the_api_returns_the_novelty(run_dir):
    from augintae_tf.inference.loaded import Generated, load_run

    expected = within_class_spread(*classes_task(4, 30, 4))
    manifest = read_arrays(run_dir / "latent-stats").state
    assert manifest["within_class"]["spread"] == pytest.approx(expected["spread"])
    run = load_run(run_dir)
    seeds = classes_task(1, 5, 5)[0]
    warned = []
    result = run.generate(seeds, num=12, seed=0, with_novelty=True, warn=warned.append)
    assert isinstance(result, Generated) and result.images.shape == (12, SIZE, SIZE, 1)
    direct = np.median(nearest_seed_distances(result.images, seeds))
    assert result.novelty.distance == pytest.approx(direct)
    assert result.novelty.spread == pytest.approx(expected["spread"][4])
    assert result.novelty.source == "the latent-stats stage, 4 training classes"
    assert (result.novelty.line() in warned) == result.novelty.close_to_copies
    plain = run.generate(seeds, num=12, seed=0, warn=None)
    np.testing.assert_array_equal(plain, result.images)  # the images are the same either way


def test_export_metadata_holds_the_reference(run_dir, tmp_path):
    from augintae_tf.inference.export import NOVELTY_FILE, export_run

    result = export_run(run_dir, tmp_path / "base", verify=False)
    meta = json.loads((result.path / NOVELTY_FILE).read_text())
    expected = within_class_spread(*classes_task(4, 30, 4))
    assert meta["within_class_spread"] == pytest.approx(expected["spread"])
    assert meta["units"] == "pixel RMS" and meta["bands"]["close_to_copies"] == "ratio < 0.5"
    assert meta["source"] == "the latent-stats stage, 4 training classes"
    assert "novelty: assets.extra/novelty.json" in result.docs


def test_generate_prints_the_novelty_line_of_what_it_wrote(run_dir, tmp_path):
    from click.testing import CliRunner

    from augintae_tf.cli.main import main
    from augintae_tf.data import load_image_files
    from augintae_tf.images import save_png
    from augintae_tf.inference.loaded import load_run

    folder = tmp_path / "seeds"
    folder.mkdir()
    for i, image in enumerate(classes_task(1, 5, 6)[0]):
        save_png(folder / f"{i}.png", image)
    result = CliRunner().invoke(main, [
        "generate", "--run-dir", str(run_dir), "--seeds", str(folder), "--num", "10", "--out",
        str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    seeds = load_image_files(str(folder), SIZE, 1)[0]
    expected = load_run(run_dir).generate(seeds, 10, 0, warn=None, with_novelty=True).novelty
    printed = [line for line in result.output.splitlines() if "novelty:" in line]
    prefix = "warning: " if expected.close_to_copies else ""
    assert printed == [prefix + expected.line()]
