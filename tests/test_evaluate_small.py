"""`evaluate` sized to the data: protocols, a record written after every metric (an interrupt keeps
what finished, a rerun skips it), the progress line, and figures withheld on too little data."""
import dataclasses
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from augintae_tf.cli.main import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    return shutil.copytree(tiny_run, tmp_path / "run")


def test_quick_is_the_default_protocol_and_paper_keeps_the_appendix_sizes():
    from augintae_tf.evaluation.options import EvalOptions, resolve_options
    from augintae_tf.evaluation.protocols import auto_num_images
    from augintae_tf.evaluation.table import parse_metrics

    assert parse_metrics(None) == ("recon", "interp", "quality", "samples")
    assert parse_metrics(None, "paper") == ("fd-clf", "classifier", "recon", "noise", "interp",
                                            "utility", "quality", "samples")
    six = np.repeat(np.arange(6), 50)  # 6 classes of 50: 5 seeds give 10 pairs, 3 alphas each
    assert auto_num_images(six, 5) == 180
    assert auto_num_images(np.repeat(np.arange(60), 20), 5) == 1800
    assert auto_num_images(np.repeat(np.arange(150), 20), 5) == 2000  # compare's, at most
    assert auto_num_images(np.array([0, 0, 1, 2, 2, 2]), 5) == 3 * (1 + 3)  # class 1: no pair
    quick = resolve_options(EvalOptions(), six)
    assert (quick.num_images, quick.noise_trials, quick.classifier_epochs) == (180, 100, None)
    paper = resolve_options(EvalOptions(protocol="paper"), six)
    assert (paper.num_images, paper.noise_trials) == (5000, 1000)
    given = resolve_options(EvalOptions(protocol="paper", num_images=7, noise_trials=3), six)
    assert (given.num_images, given.noise_trials) == (7, 3)


def test_classifier_epochs_default_to_enough_steps():
    from augintae_tf.evaluation.protocols import auto_epochs

    assert auto_epochs(110) == 30  # 2 steps an epoch: 60 steps
    assert auto_epochs(960) == 10  # 15 steps an epoch: the 10-epoch floor
    assert auto_epochs(20_000) == 10


def test_an_interrupted_evaluation_keeps_its_metrics_and_a_rerun_skips_them(run_copy, monkeypatch):
    from augintae_tf.evaluation.evaluate_run import evaluate
    from augintae_tf.evaluation.table import METRIC_TABLE as table

    def interrupted(run, data, options):
        raise KeyboardInterrupt

    monkeypatch.setitem(table, "interp", dataclasses.replace(table["interp"], fn=interrupted))
    with pytest.raises(KeyboardInterrupt):
        evaluate(run_copy, metrics="recon,interp", progress=False)
    path = run_copy / "eval" / "metrics.json"
    kept = json.loads(path.read_text())
    assert kept["complete"] is False and list(kept["metrics_done"]) == ["recon"]
    assert kept["recon_novel"] > 0 and kept["options"]["num_images"] == 2000  # 150 classes
    assert not list(path.parent.glob(".*tmp*"))

    def recomputed(run, data, options):
        raise AssertionError("recon is in metrics.json for these options")

    monkeypatch.setitem(table, "recon", dataclasses.replace(table["recon"], fn=recomputed))
    monkeypatch.setitem(table, "interp", dataclasses.replace(table["interp"], fn=lambda *a: {}))
    lines = []
    record = evaluate(run_copy, metrics="recon,interp", echo=lines.append)
    assert record["complete"] is True and record["recon_novel"] == kept["recon_novel"]
    assert any(line.startswith("  recon: already in ") for line in lines)
    progress = [line for line in lines if line.startswith("[")]
    assert progress[-1].startswith("[####################] 100%  2/2 metrics"), progress
    with pytest.raises(AssertionError, match="recon is in metrics.json"):  # other options
        evaluate(run_copy, metrics="recon,interp", progress=False, seed=1)
    with pytest.raises(AssertionError, match="recon is in metrics.json"):
        evaluate(run_copy, metrics="recon,interp", progress=False, force=True)


def test_the_progress_line_weighs_metrics_by_cost_and_estimates_the_rest():
    from augintae_tf.evaluation.record import Progress

    now, lines = [0.0], []
    bar = Progress({"a": 1.0, "b": 3.0}, lines.append, live=False, clock=lambda: now[0])
    bar.begin("a")
    now[0] = 10.0
    bar.end("a")
    assert lines[-1] == "[#####---------------]  25%  1/2 metrics  10 s, about 30 s left"
    bar.begin("b")
    now[0] = 40.0
    bar.end("b")
    assert lines[-1] == "[####################] 100%  2/2 metrics  40 s"


# ---------------------------------------------------------------- 7. figures guarded on small data
def test_a_classifier_within_chance_is_named_and_its_figures_withheld():
    from augintae_tf.evaluation.classifiers import TrainedClassifier, chance_problem

    def stub(accuracy, classes, held):
        return TrainedClassifier(None, None, np.arange(classes), accuracy, False, held_out=held)

    # two classes, 9 held-out images: chance 0.5 +- 2 x 0.167
    assert chance_problem(stub(0.78, 2, 9), "quality") == (
        "not enough data to judge: the quality classifier's held-out accuracy 0.78 is within "
        "chance (0.50 for 2 classes, 9 held-out images); more real images per class help")
    assert chance_problem(stub(0.9, 2, 9), "quality") is None
    assert chance_problem(stub(0.1, 150, 240), "x") is None  # 150 classes: chance 0.007
    assert chance_problem(stub(0.5, 2, 0), "x") is None  # a cache without the count


def _result(realism: dict, images: int = 90) -> dict:
    rows = {name: {"images": images, "realism": value, "class_accuracy": 0.5, "precision": 1.0}
            for name, value in realism.items()}
    return {"rows": rows, "per_class": {n: {0: {"precision": 1.0}} for n in rows},
            "counts": {"classes": 2, "seeds_per_class": 5, "images": images,
                       "comparison_images": images, "floor_images": images, "k": 3}}


def test_realism_near_chance_is_withheld_only_when_even_the_crossfade_was_not_told_apart():
    from augintae_tf.metrics.guards import guard_realism
    from augintae_tf.metrics.quality_table import quality_table

    # 90 a side: 30 held out each, 60 in all; chance 0.5 +- 0.13
    powerless = _result({"model": 0.52, "floor": 0.48, "crossfade": 0.55, "blurry": 0.95})
    guard_realism(powerless, 90)
    rows = powerless["rows"]
    assert [rows[n]["realism"] for n in rows] == [None, None, None, 0.95]
    assert powerless["withheld"]["values"]["model"] == {"realism": 0.52}
    table = quality_table(powerless)
    assert "| model | 90 | 0.500 | 1.000 | ? |" in table
    assert "| blurry | 90 | 0.500 | 1.000 | 0.950 |" in table
    assert ("? (realism) = not enough data to judge: the realism CNN could not tell even the "
            "pixel cross-fade from real images (0.55 on 60 held-out images, chance 0.50 +- 0.13)"
            ) in table
    telling = _result({"model": 0.52, "floor": 0.48, "crossfade": 0.8})
    guard_realism(telling, 90)
    assert [r["realism"] for r in telling["rows"].values()] == [0.52, 0.48, 0.8]
    assert "withheld" not in telling


def test_quality_withholds_class_and_manifold_columns_of_a_classifier_that_did_not_learn():
    from augintae_tf.evaluation import quality as eval_quality
    from augintae_tf.metrics.fewshot import sample_fewshot_plan
    from augintae_tf.evaluation.classifiers import TrainedClassifier

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(2), 16)
    images = rng.uniform(size=(32, 8, 8, 1)).astype(np.float32)
    plan = sample_fewshot_plan(labels, 3, 30, 0)

    class Stub(TrainedClassifier):
        def embed(self, x, batch_size=256):
            return np.asarray(x).reshape(len(x), -1)[:, :6].astype(np.float64)

        def predict(self, x, batch_size=256):
            return np.zeros(len(x), int)

    chance = Stub(None, None, np.arange(2), 0.5, False, held_out=4)
    result = eval_quality.score({"m": images[plan.index_a]}, plan, images, labels, chance,
                                shots=3, seed=0)
    assert all(result["rows"][n]["class_accuracy"] is None and result["rows"][n]["precision"]
               is None for n in result["rows"])
    assert result["rows"]["m"]["fd"] is not None  # a distance in those features stays
    reason = result["withheld"]["reasons"]["class_accuracy"]
    assert reason.startswith("not enough data to judge: the quality classifier's held-out "
                             "accuracy 0.50 is within chance (0.50 for 2 classes, 4 held-out")
    assert 0 <= result["withheld"]["values"]["floor"]["precision"] <= 1


def test_the_summary_names_the_a3_figures_and_says_which_were_withheld():
    from augintae_tf.cli.evaluate_commands import summary_lines

    record = {"fd_clf": 3.0, "class_accuracy": None, "class_accuracy_raw": 0.9,
              "class_accuracy_note": "not enough data to judge: ...", "domain_share": 0.25,
              "recon_novel": 0.01}
    assert summary_lines(record) == [
        "fd_clf=3 domain_share(A.3)=0.25 recon_novel=0.01",
        "class_accuracy(A.3): not enough data to judge: ..."]


def _fewshot(n_per_class: int, dim: int):
    """fewshot_quality of two classes of ``n_per_class`` random 8x8 images, features = their
    first ``dim`` pixels, the model row = seed copies (what is scored does not matter here)."""
    from augintae_tf.metrics.fewshot import sample_fewshot_plan, sample_seeds
    from augintae_tf.metrics.fewshot_quality import fewshot_quality
    from augintae_tf.metrics.reference_rows import seed_copies

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(2), n_per_class)
    images = rng.uniform(size=(len(labels), 8, 8, 1)).astype(np.float32)
    plan = sample_fewshot_plan(labels, 3, 60, 0)
    return fewshot_quality({"m": seed_copies(images, plan)}, plan, images, labels,
                           lambda x: np.asarray(x).reshape(len(x), -1)[:, :dim],
                           seeds=sample_seeds(labels, 3, 0), realism_epochs=1,
                           realism_min_steps=0)


def test_fd_from_too_few_images_per_feature_dimension_is_withheld_and_from_enough_is_shown():
    """The rule is on the counts only (metrics.frechet.FD_IMAGES_PER_DIM = 2): 2 classes of 16
    (comparison 2 x 7 = 14 images) in 10 features withholds every FD; 2 classes of 60 (comparison
    2 x 29 = 58) in the same 10 features shows them."""
    from augintae_tf.metrics.quality_table import quality_table

    small = _fewshot(16, 10)
    assert small["counts"]["comparison_images"] == 14
    assert all(row["fd"] is None and row["fd_class_mean"] is None for row in small["rows"].values())
    assert small["withheld"]["values"]["m"]["fd"] > 0  # kept in metrics.json, not shown
    table = quality_table(small)
    assert ("? (FD) = too few images for a Fréchet distance: 12 images in a row or the "
            "comparison set < 20 (2 per feature dimension, 10 dimensions)") in table  # the floor
    assert "| m | 60 | ? | ? |" in table
    large = _fewshot(60, 10)
    assert large["counts"]["comparison_images"] == 58 and large["counts"]["floor_images"] == 56
    assert all(row["fd"] is not None for row in large["rows"].values())
    assert "fd" not in large.get("withheld", {}).get("reasons", {})
    assert "Fréchet" not in quality_table(large)


def test_double_exposure_is_marked_when_real_images_are_flagged_beyond_its_calibration():
    from augintae_tf.metrics.guards import mark_double_exposure
    from augintae_tf.metrics.quality_table import quality_table

    noisy = _result({"model": 0.9, "floor": 0.6, "crossfade": 0.9}, images=36)
    for name, share in (("model", 0.0), ("floor", 12 / 36), ("crossfade", 1.0)):
        noisy["rows"][name]["double_exposure"] = share
    mark_double_exposure(noisy)
    table = quality_table(noisy)
    assert "| floor: held-out real images | 36 | 0.500 | 1.000 | 0.600 | 0.333* |" in table
    assert ("* (double exp) = the test flags 12 of the 36 held-out real images (floor 0.33, above "
            "the 0.05 it was calibrated within): on these images it mistakes real images for "
            "blends; read each row against the floor, not 0") in table
    calibrated = _result({"model": 0.9, "floor": 0.6}, images=1000)
    calibrated["rows"]["floor"]["double_exposure"] = 0.014  # glyphs' far floor
    calibrated["rows"]["model"]["double_exposure"] = 0.0
    mark_double_exposure(calibrated)
    assert "marked" not in calibrated and "*" not in quality_table(calibrated)


def test_the_summary_says_how_many_images_each_figure_rests_on():
    from augintae_tf.cli.evaluate_commands import summary_lines

    record = {"recon_novel": 0.0123, "recon_novel_images": "16 images", "fd_px8_samples": None,
              "fd_px8_samples_raw": 41.0, "fd_px8_samples_images": "30 vs 24 held-out images",
              "fd_px8_samples_note": "too few images for a Fréchet distance: 24 images < 128"}
    assert summary_lines(record) == [
        "recon_novel=0.0123 (16 images)",
        "fd_px8_samples: too few images for a Fréchet distance: 24 images < 128"]


def test_figure_rows_are_labelled_with_the_model_not_the_run_folder(tiny_run, tmp_path,
                                                                   monkeypatch):
    """interpolations.png: the rows say the model and the path (``augintae: slerp``); the folder
    name joins only where two runs trained the same model."""
    from types import SimpleNamespace

    from PIL import Image

    from augintae_tf.evaluation import figures
    from augintae_tf.inference.loaded import load_run

    def fake(folder, model):
        return SimpleNamespace(directory=tmp_path / folder,
                               config=SimpleNamespace(model=SimpleNamespace(name=model)))

    assert figures.model_labels([fake("00000-shapes-augintae", "augintae"), fake("q", "ae"),
                                 fake("00001-shapes-augintae", "augintae")]) == [
        "augintae (00000-shapes-augintae)", "ae", "augintae (00001-shapes-augintae)"]
    drawn = []
    real = figures.save_labelled_grid
    run = load_run(tiny_run)
    images = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype(np.float32)
    monkeypatch.setattr(figures, "save_labelled_grid", lambda path, rows, labels: drawn.append(
        labels) or real(path, rows, labels))
    figures.interpolation_figure(tmp_path / "i.png", [run], images, np.repeat([0, 1], 4), 0)
    assert drawn[0][:2] == ["1. pixel fade", "augintae: slerp"]
    assert Image.open(tmp_path / "i.png").size[0] > 0
