"""The generalization study: the metric's errors against NumPy, `evaluate --metrics
generalization`, `compare` with a VAE run, and `reconstruct` for the AE family."""
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from augintae_tf.cli.main import main
from augintae_tf.evaluation import generalization


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_errors_match_numpy_and_the_fd_of_identical_sets_is_zero():
    rng = np.random.default_rng(0)
    originals = rng.uniform(size=(40, 4, 4, 1))
    recon = originals + rng.normal(scale=0.1, size=originals.shape)
    embed = lambda images: np.asarray(images).reshape(len(images), -1)[:, :3]  # noqa: E731
    values = generalization.errors(originals, recon, embed)
    assert values["mse"] == pytest.approx(np.mean((recon - originals) ** 2), rel=1e-12)
    assert values["fd"] > 0
    assert abs(generalization.errors(originals, originals, embed)["fd"]) < 1e-6
    assert set(generalization.errors(originals, recon, None)) == {"mse"}


class Halver:
    """A stand-in model whose reconstruction halves every pixel, with one variant."""

    def __call__(self, images, training=False):
        return np.asarray(images) * 0.5

    def reconstruction_variants(self):
        return {"_zero": lambda images: np.zeros_like(images)}


def test_values_per_set_and_variant():
    rng = np.random.default_rng(1)
    test, novel = rng.uniform(size=(6, 4, 4, 1)), rng.uniform(size=(5, 4, 4, 1))
    values, rows = generalization.generalization_values(Halver(), test, novel, None)
    # images are reconstructed in float32
    assert values["gen_test_mse"] == pytest.approx(np.mean((test * 0.5 - test) ** 2), rel=1e-6)
    assert values["gen_novel_mse_zero"] == pytest.approx(np.mean(novel ** 2), rel=1e-6)
    assert values["gen_novel_ratio"] == values["gen_novel_mse"] / values["gen_test_mse"]
    assert set(rows) == {"", "_zero"} and rows[""].shape == (5, 4, 4, 1)


def test_evaluate_and_compare_write_the_table_and_figure(tiny_run, tmp_path):
    from augintae_tf.inference.loaded import load_run
    from augintae_tf.training import train
    from tests.conftest import tiny_config

    ae_run = shutil.copytree(tiny_run, tmp_path / "augintae")
    vae_run = tmp_path / "vae"
    train(tiny_config(**{"model.name": "vae", "train.epochs": 1}), vae_run, echo=lambda *_: None)
    for run in (ae_run, vae_run):
        result = invoke("evaluate", "--run-dir", run, "--metrics", "generalization",
                        "--data-limit", 24, "--classifier-epochs", 1, "--classifier-limit", 100)
        assert result.exit_code == 0, result.output
    record = json.loads((vae_run / "eval" / "metrics.json").read_text())
    assert record["gen_images"] == 24 and (vae_run / "eval" / "generalization.png").is_file()
    # independent check of the novel MSE: the run's own reconstruction of the same 24 images
    from augintae_tf.data import load_arrays

    cfg = load_run(vae_run).config
    novel, _ = load_arrays(cfg.data, cfg.data.novel_split, limit=24)
    model = load_run(vae_run).model
    expected = float(np.mean((model(novel).numpy() - novel) ** 2))
    assert abs(record["gen_novel_mse"] - expected) < 1e-6

    # the few-shot quality table of compare: tests/test_eval_quality.py
    compared = invoke("compare", ae_run, vae_run, "--out", tmp_path / "cmp", "--no-quality")
    assert compared.exit_code == 0, compared.output
    table = (tmp_path / "cmp" / "metrics.md").read_text()
    assert "gen_novel_mse" in table and "| vae | vae |" in table
    assert (tmp_path / "cmp" / "generalization.png").stat().st_size > 0


def test_reconstruct_command_encodes_and_decodes(tiny_run, tmp_path):
    from augintae_tf.data import load_image_files
    from augintae_tf.images import save_png
    from augintae_tf.inference.loaded import load_run

    pixels = np.random.default_rng(3).uniform(size=(2, 28, 28, 1)).astype(np.float32)
    for i, image in enumerate(pixels):
        save_png(tmp_path / "in" / f"x{i}.png", image)
    result = invoke("reconstruct", "--run-dir", tiny_run, "--images", tmp_path / "in",
                    "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    inputs, _ = load_image_files(tmp_path / "in", 28, 1)
    expected = load_run(tiny_run).model(inputs).numpy()
    written, _ = load_image_files([tmp_path / "out" / "00000.png", tmp_path / "out" / "00001.png"],
                                  28, 1)
    assert np.abs(written - expected).max() <= 1 / 255 + 1e-6  # 8-bit PNGs of the same images
    refused = invoke("reconstruct", "--run-dir", tiny_run, "--images", tmp_path / "in",
                     "--out", tmp_path / "out")
    assert refused.output.strip().endswith(f"--out {tmp_path / 'out'} is not empty; choose an "
                                           "empty folder or pass --overwrite")
