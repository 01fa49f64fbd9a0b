"""`augintae-tf evaluate` / `compare` and the classifier metrics, on the shared tiny run."""
import json
import math
import shutil
import time

import pytest
from click.testing import CliRunner

from augintae_tf.cli.main import main

FAST = {"num_images": 60, "noise_trials": 4, "classifier_epochs": 1, "classifier_limit": 600}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def figure(record, key):
    """``record[key]``, or the value withheld as from a classifier within chance (1 epoch)."""
    return record[key] if record[key] is not None else record[f"{key}_raw"]


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A private copy of the tiny run: evaluate writes into the run directory."""
    return shutil.copytree(tiny_run, tmp_path / "run")


def test_classifier_metrics_are_in_range_and_classifiers_are_cached(run_copy, monkeypatch):
    from augintae_tf.evaluation.evaluate_run import evaluate
    from augintae_tf.evaluation import classifiers

    first = evaluate(run_copy, metrics="fd-clf,classifier", progress=False, **FAST)
    for key in ("domain_share", "class_accuracy", "domain_classifier_accuracy", "class_classifier_accuracy"):
        assert 0.0 <= figure(first, key) <= 1.0, key
    assert math.isfinite(first["fd_clf"]) and first["fd_clf"] >= 0
    weights = run_copy / "eval" / "classifiers"
    mtimes = {p.name: p.stat().st_mtime_ns for p in weights.glob("*.weights.h5")}
    assert set(mtimes) == {"domain.weights.h5", "class.weights.h5"}
    assert not list(weights.glob(".*tmp*"))  # atomic writes leave no temp files

    def no_training(*args, **kwargs):
        raise AssertionError("cached classifiers must be reused")

    monkeypatch.setattr(classifiers, "train_classifier", no_training)
    second = evaluate(run_copy, metrics="fd-clf,classifier", progress=False, force=True, **FAST)
    assert {p.name: p.stat().st_mtime_ns for p in weights.glob("*.weights.h5")} == mtimes
    for key in ("domain_share", "class_accuracy", "fd_clf", "class_classifier_accuracy"):
        assert figure(second, key) == pytest.approx(figure(first, key), rel=1e-5, abs=1e-6)


def test_evaluate_command_end_to_end(run_copy):
    log = run_copy / "metrics.jsonl"
    lines_before = len(log.read_text().splitlines())
    result = invoke("evaluate", "--run-dir", run_copy, "--metrics", "fd-clf,classifier,recon,noise,interp",
                    "--num-images", 60, "--noise-trials", 4, "--classifier-epochs", 1,
                    "--classifier-limit", 600)
    assert result.exit_code == 0, result.output
    assert "total:" in result.output
    out = run_copy / "eval"
    record = json.loads((out / "metrics.json").read_text())
    for key in ("fd_clf", "class_accuracy", "domain_share", "recon_test", "recon_novel", "noise_mean"):
        assert math.isfinite(figure(record, key)), key
    assert sorted(map(int, record["noise"])) == list(range(1, 29))
    assert record["novel"]["split"] == "test" and record["test"]["split"] == "validation"
    assert {"classifiers", "recon", "noise", "interp", "total"} <= set(record["timing_s"])
    assert (out / "noise.png").stat().st_size > 0 and (out / "interpolations.png").stat().st_size > 0
    lines = log.read_text().splitlines()
    assert len(lines) == lines_before + 1
    last = json.loads(lines[-1])
    assert "timestamp" in last and last["eval"]["fd_clf"] == pytest.approx(record["fd_clf"])


def test_fid_without_weights_fails_fast_before_loading_the_run(run_copy, tmp_path, monkeypatch):
    from augintae_tf.evaluation import evaluate_run
    from augintae_tf.metrics import inception

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(inception, "KERAS_FALLBACK_CACHE", tmp_path / "fallback")
    monkeypatch.setattr(inception, "_download_blocker", lambda url, timeout=3.0: "no route to host")

    def no_load(*args, **kwargs):
        raise AssertionError("the run must not be loaded before the FID network")

    monkeypatch.setattr(evaluate_run, "load_run", no_load)
    start = time.monotonic()
    result = invoke("evaluate", "--run-dir", run_copy, "--metrics", "fid")
    assert time.monotonic() - start < 10
    assert result.exit_code == 1
    assert result.output.startswith("Error: Inception-v3 weights are not cached")
    assert "--fid-network" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (run_copy / "eval").exists()


def test_unknown_metric_is_a_one_line_error(run_copy):
    result = invoke("evaluate", "--run-dir", run_copy, "--metrics", "recon,bogus")
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: unknown metric(s) bogus; choose from "
                                     "fid, fd-clf, classifier, recon, noise, interp, utility, quality, samples, "
                                     "generalization")


def test_compare_run_with_itself(tiny_run, tmp_path):
    out = tmp_path / "cmp"
    # A run by --run-dir and one as an argument (quality: test_eval_quality)
    result = invoke("compare", "--run-dir", tiny_run, tiny_run, "--out", out, "--no-quality")
    assert result.exit_code == 0, result.output
    assert (out / "interpolations.png").stat().st_size > 0
    table = (out / "metrics.md").read_text()
    assert table.count("| tiny |") == 2 and "—" in table  # the shared tiny run has no eval
    assert table in result.output + "\n"
    data = json.loads((out / "metrics.json").read_text())
    assert len(data["runs"]) == 2 and data["runs"][0]["fd_clf"] is None
    none = invoke("compare", "--out", tmp_path / "none")
    assert none.exit_code == 2 and "give the runs to compare: --run-dir RUN" in none.output


def test_compare_shows_evaluated_values_and_figure_rows(run_copy, tiny_run, tmp_path):
    from PIL import Image

    from augintae_tf.evaluation.figures import INTERP_PAIRS, INTERP_STEPS
    from augintae_tf.evaluation.compare_runs import compare
    from augintae_tf.images import LABEL_WIDTH

    (run_copy / "eval").mkdir()
    (run_copy / "eval" / "metrics.json").write_text(json.dumps({"fd_clf": 1.5, "class_accuracy": 0.25}))
    result = compare([run_copy, tiny_run], tmp_path / "cmp", echo=lambda *_: None, quality=False)
    assert "| run | augintae | 1.5 | 0.25 |" in result["markdown"]
    assert "| tiny | augintae | — | — |" in result["markdown"]
    rows = INTERP_PAIRS * 3  # pixel fade + one slerp row per run, per pair
    assert Image.open(result["figure"]).size == (LABEL_WIDTH + (2 + INTERP_STEPS * 30) * 3,
                                                 (2 + rows * (28 + 2)) * 3)


def test_compare_on_the_far_split_draws_the_pixel_fade_of_far_pairs(tiny_run, tmp_path):
    """The A.6 figure on ``--split far``: per pair, the first row is the NumPy cross-fade of a
    same-class far pair (alpha 1 -> 0), then the run's row; the margin is labelled."""
    import numpy as np
    from PIL import Image

    from augintae_tf.data import glyphs
    from augintae_tf.evaluation.figures import INTERP_PAIRS, INTERP_STEPS, novel_pairs
    from augintae_tf.images import LABEL_WIDTH

    result = invoke("compare", tiny_run, "--out", tmp_path / "cmp", "--no-quality", "--split", "far")
    assert result.exit_code == 0, result.output
    figure = np.asarray(Image.open(tmp_path / "cmp" / "interpolations.png").convert("L"), np.float32)
    assert figure.shape == ((2 + INTERP_PAIRS * 2 * 30) * 3, LABEL_WIDTH + (2 + INTERP_STEPS * 30) * 3)
    assert figure[:, :LABEL_WIDTH].min() == 0 and figure[:, :LABEL_WIDTH].mean() > 200  # text on white
    images, labels = glyphs.split_arrays("far")
    images = images.astype(np.float32) / 255.0
    assert labels.min() >= len(glyphs.class_names()) - len(glyphs._select_far())
    alphas = np.arange(INTERP_STEPS - 1, -1, -1) / (INTERP_STEPS - 1)
    for k, (a, b) in enumerate(novel_pairs(labels, INTERP_PAIRS, 0)):
        assert labels[a] == labels[b] and a != b
        y = (2 + 2 * k * 30) * 3
        for j, alpha in enumerate(alphas):
            x = LABEL_WIDTH + (2 + j * 30) * 3
            cell = figure[y:y + 84:3, x:x + 84:3]  # nearest-neighbour x3: every third pixel
            fade = alpha * images[a, ..., 0] + (1 - alpha) * images[b, ..., 0]
            np.testing.assert_allclose(cell, np.round(fade * 255), atol=1.0)


def test_evaluation_reads_the_far_split_when_asked(tiny_run):
    import dataclasses

    from augintae_tf.data import glyphs
    from augintae_tf.evaluation.inputs import EvalData, Timer
    from augintae_tf.evaluation.options import EvalOptions
    from augintae_tf.inference.loaded import load_run

    run = load_run(tiny_run)
    far = set(range(len(glyphs.class_names()) - len(glyphs._select_far()), len(glyphs.class_names())))
    asked = EvalData(run, EvalOptions(split="far", data_limit=300), tiny_run, Timer(lambda *_: None))
    assert (asked.novel_dataset, asked.novel_split) == ("glyphs", "far")
    assert set(asked.novel[1]) <= far and len(set(asked.novel[1])) == len(far)
    config = dataclasses.replace(run.config, data=dataclasses.replace(run.config.data, novel_split="far"))
    configured = EvalData(dataclasses.replace(run, config=config), EvalOptions(data_limit=300), tiny_run,
                          Timer(lambda *_: None))
    assert configured.novel_split == "far" and set(configured.novel[1]) <= far
    default = EvalData(run, EvalOptions(data_limit=300), tiny_run, Timer(lambda *_: None))
    assert not set(default.novel[1]) & far


def test_parse_metrics():
    from augintae_tf.errors import RunError
    from augintae_tf.evaluation.table import default_metrics, metric_names, parse_metrics

    assert parse_metrics(None) == default_metrics()
    assert parse_metrics("interp, recon") == ("recon", "interp")
    assert parse_metrics("all") == metric_names()
    with pytest.raises(RunError):
        parse_metrics("")


def test_the_cli_and_compare_read_the_one_set_of_evaluation_defaults():
    import dataclasses

    from augintae_tf.cli.evaluate_commands import compare_command, evaluate_command
    from augintae_tf.evaluation.options import COMPARE_DEFAULTS, EVAL_DEFAULTS, EvalOptions
    from augintae_tf.evaluation.table import declared_options

    fields = {f.name: f.default for f in dataclasses.fields(EvalOptions) if f.name != "metric_options"}
    fields.update({name: option.default for name, option in declared_options("evaluate").items()})
    assert {"noise_trials", "fid_network", "utility_steps", "double_exposure_shift"} <= set(fields)
    shown = {p.name: p.default for p in evaluate_command.params if p.name in fields}
    assert set(shown) == set(fields) and shown == fields == EVAL_DEFAULTS.as_dict()
    compared = {p.name: p.default for p in compare_command.params}
    assert compared["num_images"] == COMPARE_DEFAULTS.num_images == 2000
    for name in ("shots", "classifier_epochs", "classifier_limit", "double_exposure_ratio",
                 "double_exposure_shift", "seed", "quality", "scale"):
        assert compared[name] == getattr(COMPARE_DEFAULTS, name), name
    for name in ("shots", "classifier_epochs", "classifier_limit", "double_exposure_ratio",
                 "double_exposure_shift", "seed"):
        assert getattr(COMPARE_DEFAULTS, name) == fields[name], name
