"""The few-shot quality metric through `evaluate` and `compare` on a copy of the tiny run."""
import dataclasses
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from augintae_tf.cli.main import main

FAST = {"num_images": 60, "classifier_epochs": 1, "classifier_limit": 600}
ROWS = ["augintae", "augintae: seed reconstructions", "floor", "seed_copies", "seed_augmented",
        "crossfade"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A private copy: evaluate writes RUN/eval and appends to RUN/metrics.jsonl."""
    return shutil.copytree(tiny_run, tmp_path / "run")


def test_quality_classifier_trains_on_the_comparison_split_only(run_copy, monkeypatch):
    from augintae_tf.data import load_arrays
    from augintae_tf.evaluation.evaluate_run import evaluate
    from augintae_tf.evaluation import classifiers
    from augintae_tf.metrics.fewshot import sample_fewshot_plan, sample_seeds
    from augintae_tf.metrics.reference_rows import real_split
    from augintae_tf.inference.loaded import load_run

    seen = []
    original = classifiers.train_classifier

    def spy(images, labels, **kwargs):
        seen.append((kwargs["name"], np.asarray(images), np.asarray(labels)))
        return original(images, labels, **kwargs)

    monkeypatch.setattr(classifiers, "train_classifier", spy)
    record = evaluate(run_copy, metrics="quality", progress=False, **FAST)
    # the independent reference: the plan and split from the public functions, same seed
    cfg = load_run(run_copy).config
    images, labels = load_arrays(dataclasses.replace(cfg.data, limit=None), "test", limit=None)
    plan = sample_fewshot_plan(labels, 5, 60, 0)
    split = real_split(labels, plan, seeds=sample_seeds(labels, 5, 0), seed=0)
    assert [name for name, _, _ in seen] == ["quality"]
    _, trained, trained_labels = seen[0]
    expected = images[split.comparison]
    if len(expected) > 600:  # classifier_limit subsamples (sorted indices, fixed seed)
        keep = np.sort(np.random.default_rng([0, 3]).choice(len(expected), 600, replace=False))
        expected, expect_labels = expected[keep], labels[split.comparison][keep]
    else:
        expect_labels = labels[split.comparison]
    np.testing.assert_array_equal(trained, expected)
    np.testing.assert_array_equal(trained_labels, expect_labels)
    assert not set(split.seeds) & set(split.comparison) and not set(split.floor) & set(split.comparison)

    quality = record["quality"]
    assert list(quality["rows"]) == ROWS
    counts = quality["counts"]
    assert counts["images"] == 60 and counts["seeds"] == len(split.seeds)
    assert counts["comparison_images"] == len(split.comparison) and counts["floor_images"] == len(split.floor)
    copies, floor = quality["rows"]["seed_copies"], quality["rows"]["floor"]
    assert copies["seed_distance"] == pytest.approx(0, abs=1e-6)
    assert copies["seed_distance_px"] == pytest.approx(0, abs=1e-6)
    assert floor["images"] == len(split.floor) and floor["seed_distance_px"] > 0
    withheld = quality.get("withheld", {}).get("values", {})  # a 1-epoch classifier: chance
    for name, row in quality["rows"].items():
        row = {**row, **withheld.get(name, {})}
        assert 0 <= row["class_accuracy"] <= 1 and 0 <= row["realism"] <= 1 and row["fd"] >= 0
    meta = json.loads((run_copy / "eval" / "classifiers" / "quality.json").read_text())
    assert meta["key"]["split"] == "comparison" and meta["key"]["comparison"][0] == len(split.comparison)
    on_disk = json.loads((run_copy / "eval" / "metrics.json").read_text())["quality"]
    disk_withheld = on_disk.get("withheld", {}).get("values", {})  # 60 images: FD withheld
    assert ({**on_disk["rows"]["crossfade"], **disk_withheld.get("crossfade", {})}["fd"]
            == pytest.approx({**quality["rows"]["crossfade"], **withheld.get("crossfade", {})}["fd"]))


def test_evaluate_command_prints_the_reference_rows(run_copy):
    result = invoke("evaluate", "--run-dir", run_copy, "--metrics", "quality", "--num-images", 60,
                    "--classifier-epochs", 1, "--classifier-limit", 600)
    assert result.exit_code == 0, result.output
    for title in ("| augintae |", "| floor: held-out real images |", "| copies of the seeds (no model) |",
                  "| pixel cross-fade of the seeds (no model) |"):
        assert result.output.count(title) == 1, title
    for heading in ("FD", "class acc", "precision", "recall", "density", "coverage", "seed dist",
                    "realism"):
        assert f"| {heading} |" in result.output, heading
    assert "5 seeds per class, 60 generated images" in result.output
    last = json.loads((run_copy / "metrics.jsonl").read_text().splitlines()[-1])
    assert list(last["eval"]["quality"]["rows"]) == ROWS
    assert "per_class" not in last["eval"]["quality"]  # the log line stays small
    record = json.loads((run_copy / "eval" / "metrics.json").read_text())
    assert set(record["quality"]["per_class"]) == set(ROWS)


def test_evaluate_utility_fills_the_quality_rows_utility_columns(run_copy):
    result = invoke("evaluate", "--run-dir", run_copy, "--metrics", "utility,quality",
                    "--num-images", 60, "--classifier-epochs", 1, "--classifier-limit", 600,
                    "--utility-seeds", 1, "--utility-episodes", 1, "--utility-steps", 5,
                    "--utility-extra", 3)
    assert result.exit_code == 0, result.output
    record = json.loads((run_copy / "eval" / "metrics.json").read_text())
    utility = record["utility"]
    assert utility["order"] == ["seeds", "augintae", "seed_augmented", "real"]
    assert utility["counts"]["extra_per_class"] == 3 and utility["counts"]["classifier_seeds"] == 1
    rows = record["quality"]["rows"]
    for row, name in (("augintae", "augintae"), ("seed_copies", "seeds"),
                      ("seed_augmented", "seed_augmented"), ("floor", "real")):
        assert rows[row]["utility"] == pytest.approx(utility["rows"][name]["mean"]), row
    assert "utility" not in rows["crossfade"]
    assert "| utility | util share |" in result.output
    assert "(d) seeds + other real images (the ceiling)" in result.output


def test_seed_reconstructions_decode_the_alpha_nearer_seed_of_every_plan_row():
    """Row i = the model's reconstruction of image index_a[i] if alpha[i] >= 0.5 else index_b[i],
    each checked against the model called on that one image; models without a latent: None."""
    from augintae_tf.evaluation.quality import seed_reconstructions, with_reconstructions
    from augintae_tf.metrics.fewshot import sample_fewshot_plan
    from augintae_tf.models import build_model
    from conftest import small_model_config

    model = build_model(small_model_config("ae", 12))
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(30, 12, 12, 1)).astype(np.float32)
    labels = np.repeat(np.arange(3), 10)
    plan = sample_fewshot_plan(labels, 4, 25, 0)
    recon = seed_reconstructions(model, images, plan, batch_size=3)
    assert recon.shape == (25, 12, 12, 1)
    for i in range(25):
        index = plan.index_a[i] if plan.alpha[i] >= 0.5 else plan.index_b[i]
        np.testing.assert_allclose(recon[i], model(images[index:index + 1]).numpy()[0], atol=1e-5)

    class NoLatent:
        def has(self, capability):
            return False

    assert seed_reconstructions(NoLatent(), images, plan) is None
    rows = with_reconstructions({"m": recon, "n": recon}, {"m": model, "n": NoLatent()}, images, plan)
    assert list(rows) == ["m", "m: seed reconstructions", "n"]


def test_quality_is_a_default_metric():
    from augintae_tf.evaluation.table import default_metrics

    assert "quality" in default_metrics()


def test_compare_scores_every_run_on_one_plan_with_one_set_of_references(run_copy, tiny_run, tmp_path):
    out = tmp_path / "cmp"
    result = invoke("compare", run_copy, tiny_run, tiny_run, "--out", out, "--num-images", 60,
                    "--classifier-epochs", 1, "--classifier-limit", 600)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "metrics.json").read_text())
    withheld = data["quality"].get("withheld", {}).get("values", {})  # 60 images: FD among them
    rows = {name: {**row, **withheld.get(name, {})} for name, row in data["quality"]["rows"].items()}
    assert list(rows) == ["run", "tiny", "tiny-2", "floor", "seed_copies", "seed_augmented",
                          "crossfade"]
    # the same weights on the same plan give the same images, so the same scores, and the copy
    # of the run (other directory, same weights) too: nothing run-specific leaks into the plan
    for name in ("tiny", "tiny-2"):
        for metric in ("fd", "class_accuracy", "precision", "recall", "seed_distance", "realism"):
            assert rows[name][metric] == pytest.approx(rows["run"][metric], rel=1e-5, abs=1e-6), metric
    table = (out / "metrics.md").read_text()
    assert table.count("| copies of the seeds (no model) |") == 1 and table.count("| tiny-2 |") == 1
    assert "pixel cross-fade" in result.output
    assert (out / "classifiers" / "quality.weights.h5").is_file()


def test_compare_without_quality_keeps_the_eval_table(tiny_run, tmp_path):
    result = invoke("compare", tiny_run, "--out", tmp_path / "cmp", "--no-quality")
    assert result.exit_code == 0, result.output
    assert "no model" not in result.output
    assert json.loads((tmp_path / "cmp" / "metrics.json").read_text())["quality"] is None


def test_benchmark_recipes_share_one_budget_in_images_seen():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "benchmarks" / "fewshot_quality.py"
    spec = importlib.util.spec_from_file_location("fewshot_quality_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    paper = bench.recipe_config("augintae", 25_600, {})
    small = bench.recipe_config("augintae-b32", 25_600, {})
    assert (paper.train.batch_size, paper.train.steps) == (128, 200)
    assert (small.train.batch_size, small.train.steps) == (32, 800)
    assert bench.recipe_config("recommended", 25_600, {}).model.pixel_loss == "l1"
    assert bench.recipe_config("augintae-l1-nodrop", 25_600, {}) == bench.recipe_config("l1c", 25_600, {})
    # the recommended preset is those levers, with its own model and sampler
    assert bench.recipe_config("rec-z128-aw", 25_600, {"model.name": "ae"}) == \
        bench.recipe_config("recommended", 25_600, {"model.name": "ae", "model.sampler": "slerp"})
    assert bench.recipe_config("recommended", 25_600, {}).train.steps == 200
    assert bench.recipe_config("ae", 1000, {"model.width": "0.5"}).model.width == 0.5
    # every recipe is a valid config whose overrides took effect on its preset
    for name, overrides in bench.RECIPES.items():
        cfg = bench.recipe_config(name, 25_600, {})
        flat = {f"{section}.{key}": value for section, values in cfg.to_dict().items()
                for key, value in values.items()}
        assert all(flat[key] == value for key, value in overrides.items() if key != "config"), name
    ema = bench.recipe_config("rec-ema", 25_600, {})
    assert ema.model.ema and ema.model.pixel_loss == "l1" and ema.train.lr_drops == []
