"""The model contract and the metric table, proven from outside: a throwaway model registered in
this file trains, generates, evaluates and exports through the CLI and library without any change
to augintae_tf; a metric registered here is run and listed like the built-in ones."""
import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from augintae_tf.cli.main import main
from augintae_tf.config import ConfigError, load_config
from augintae_tf.augment import sub_seed
from augintae_tf.models.autoencoder import Autoencoder
from augintae_tf.config.choices import require
from augintae_tf.config.model_table import model_names, register_model
from augintae_tf.config.model_sections import AutoencoderConfig


@dataclass
class DenoisingConfig(AutoencoderConfig):  # its model is an Autoencoder: so is its section
    noise: float = 0.1  # std of the Gaussian noise added to the input

    def check(self) -> None:
        super().check()
        require(0 <= self.noise <= 1, "model.noise", self.noise, "a std in [0, 1]")


class DenoisingAE(Autoencoder):
    """Reconstruct each image from a noisy copy of it."""

    extra_plots = {"recon_only.png": ("recon_loss",)}

    def training_batch(self, images, seed):
        noise = tf.random.stateless_normal(tf.shape(images), sub_seed(seed, 1))
        return self(images + self.setup.section.noise * noise, training=True), images


register_model("denoise-test", DenoisingAE, DenoisingConfig, summary="test-only denoising AE")
SMALL = ["--set", "model.width=0.25", "--set", "model.latent_dim=8", "--set", "data.limit=64",
         "--batch-size", "32", "--epochs", "1"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_registered_model_has_its_own_validated_config_section():
    assert "denoise-test" in model_names()
    cfg = load_config("glyphs", {"model.noise": "0.25", "model.name": "denoise-test"})
    assert isinstance(cfg.model, DenoisingConfig) and cfg.model.noise == 0.25
    with pytest.raises(ConfigError, match=r"^model.noise: 2.0 is not allowed; expected a std in"):
        load_config("glyphs", {"model.name": "denoise-test", "model.noise": "2"})
    with pytest.raises(ConfigError, match="model.noise: unknown field; model 'augintae' has"):
        load_config("glyphs", {"model.noise": "0.2"})
    # the built-in families' constants are config fields with the paper's values as defaults
    assert load_config("glyphs", {"model.name": "augintae-adv"}).model.k_rate == 0.001
    gaia = load_config("glyphs", {"model.name": "gaia", "model.slope": "10"}).model
    assert (gaia.slope, gaia.sigma, gaia.max_fake_weight, gaia.structure_weight) == \
        (10.0, 0.5, 0.9, 5e-5)


def test_throwaway_model_trains_generates_evaluates_and_exports(tmp_path):
    from augintae_tf.inference.loaded import load_run

    run_dir = tmp_path / "run"
    dry = invoke("train", "--model", "denoise-test", "--set", "model.noise=0.2", *SMALL, "--dry-run")
    assert dry.exit_code == 0 and "noise: 0.2" in dry.output and "encoder:" in dry.output
    result = invoke("train", "--model", "denoise-test", "--set", "model.noise=0.2", *SMALL,
                    "--run-dir", run_dir)
    assert result.exit_code == 0, result.output
    assert (run_dir / "samples" / "recon_only.png").stat().st_size > 0  # its extra plot
    run = load_run(run_dir)
    assert isinstance(run.model, DenoisingAE) and run.model.setup.section.noise == 0.2
    seeds = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    generated = run.generate(seeds, num=6, seed=4)
    assert generated.shape == (6, 28, 28, 1)

    evaluated = invoke("evaluate", "--run-dir", run_dir, "--metrics", "recon,interp",
                       "--num-images", 20)
    assert evaluated.exit_code == 0, evaluated.output
    record = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert record["model"] == "denoise-test" and math.isfinite(record["recon_test"])

    exported = invoke("export", "--run-dir", run_dir, "--out", tmp_path / "serving")
    assert exported.exit_code == 0, exported.output
    assert "signatures: generate," in exported.output
    assert "verified in a fresh TensorFlow process" in exported.output  # the REST example too
    served = tf.saved_model.load(str(tmp_path / "serving" / "1"))
    images = served.signatures["generate"](seed_images=tf.constant(seeds), num=tf.constant(6),
                                           seed=tf.constant(4, tf.int64))["images"].numpy()
    assert np.abs(images - generated).max() < 1e-5


class FakeInception:
    """Features = per-image mean and spread of pixels: enough for a Fréchet distance."""

    name = "fake"

    def __call__(self, images, progress=False):
        flat = np.asarray(images, np.float64).reshape(len(images), -1)
        return np.stack([flat.mean(1), flat.std(1), flat[:, ::7].mean(1)], axis=1)


def test_a_registered_metric_runs_and_is_listed(tiny_run, tmp_path, monkeypatch):
    import shutil

    from augintae_tf.evaluation import builtin, table
    from augintae_tf.evaluation.evaluate_run import evaluate

    run = shutil.copytree(tiny_run, tmp_path / "run")  # evaluate appends to the run's log

    monkeypatch.setattr(table, "METRIC_TABLE", dict(table.METRIC_TABLE))
    seen = {}

    def brightness(run, data, options):
        seen["plan"] = data.plan  # shared lazily loaded data: the plan and its images
        return {"mean_brightness": float(data.fewshot_images.mean())}

    table.register_metric("brightness", brightness, help="mean pixel value")
    table.register_metric("fid", builtin.fid,
                               prepare=lambda options: FakeInception())
    assert table.parse_metrics("all")[-1] == "brightness"
    refused = invoke("evaluate", "--run-dir", tiny_run, "--metrics", "bogus")
    assert refused.output.strip().endswith("choose from fid, fd-clf, classifier, recon, noise, "
                                           "interp, utility, quality, samples, generalization, "
                                           "brightness")
    record = evaluate(run, metrics="brightness,fid", out=tmp_path / "eval",
                                 num_images=30, progress=False)
    assert 0 < record["mean_brightness"] < 1 and len(seen["plan"].alpha) == 30
    assert record["fid_network"] == "fake" and record["fid_fewshot"] >= 0
    assert {"brightness", "fid", "fid_network", "fewshot_generation"} <= set(record["timing_s"])
