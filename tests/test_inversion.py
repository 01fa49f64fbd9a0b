"""GAN inversion: the learned inversion network recovers known latents, refinement lowers the L1
error per image, the stage's checkpoint round-trips, and wgan-gp goes through the CLI (train with
its stage, --stage rerun, generate, reconstruct, export)."""
import json

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from pathlib import Path

from augintae_tf.models import inversion
from augintae_tf.cli.main import main
from augintae_tf.inference.stage_results import restore_inversion
from augintae_tf.training.stages import run_inversion
from augintae_tf.errors import RunError
from augintae_tf.models.wgan_gp.model import sphere_noise
from tests.test_wgan_gp import built, wgan_config

FAST = dict(inversion_steps=300, inversion_drop_every=150, inversion_lr=0.05,
            inversion_momentum=0.9, inversion_batch=32)


def tiny_gan(**fields):
    """A tiny wgan-gp whose (untrained) generator's kernels are scaled up, so that its images
    depend clearly on the latent: a known generator to invert."""
    model = built(wgan_config(**fields))
    for variable in model.generator.trainable_variables:
        if "kernel" in variable.path:
            variable.assign(variable * 3.0)
    return model


def known_latents(n=64, seed=7):
    return sphere_noise(n, 8, tf.constant([seed, 1], tf.int64))


def test_inversion_recovers_known_latents_better_than_chance(tmp_path):
    model = tiny_gan(**FAST)
    z = known_latents()
    x = model.generator(z, training=False)
    with pytest.raises(RunError, match=r"^this wgan-gp run has no trained inversion network; run "
                                       r"`augintae-tf train --stage inversion --run-dir RUN`$"):
        model.invert(x)
    history = run_inversion(model, tmp_path, wgan_config(**FAST), None, echo=lambda *_: None)
    assert len(history) == 2 and history[-1] < history[0]
    cosine = float(tf.reduce_mean(tf.reduce_sum(model.invert(x) * z, axis=1)))
    # unrelated unit latents in 8-D have cosine 0 +- 0.35 each, +- 0.044 for the mean of 64
    assert cosine > 0.3
    shuffled = float(tf.reduce_mean(tf.reduce_sum(model.invert(x) * tf.roll(z, 1, 0), axis=1)))
    assert cosine > shuffled + 0.2


def test_refinement_lowers_the_l1_error_of_every_image_and_is_per_image():
    model = tiny_gan()
    z = known_latents(6)
    x = model.generator(z, training=False)
    start = known_latents(6, seed=8)  # a poor guess
    refined = inversion.refine_latents(model.generator, x, start, 100, 0.05)
    before = inversion.l1_error(model.generator, x, start).numpy()
    after = inversion.l1_error(model.generator, x, refined).numpy()
    assert np.all(after < before) and np.allclose(np.linalg.norm(refined, axis=1), 1, atol=1e-5)
    # the loss sums per-image means: each latent's steps depend on its own image only
    alone = inversion.refine_latents(model.generator, x[:2], start[:2], 100, 0.05)
    np.testing.assert_allclose(alone.numpy(), refined.numpy()[:2], atol=1e-5)
    assert inversion.refine_latents(model.generator, x, start, 0, 0.05).numpy() == \
        pytest.approx(start.numpy(), abs=1e-6)


def test_stage_checkpoint_is_atomic_and_restores_the_inversion_network(tmp_path):
    from augintae_tf.run import checkpoints

    model = tiny_gan(**{**FAST, "inversion_steps": 20, "inversion_drop_every": 10})
    run_inversion(model, tmp_path, wgan_config(), Path("epoch-00003"), echo=lambda *_: None)
    saved = checkpoints.list_checkpoints(tmp_path / "inversion")
    assert [p.name for p in saved] == ["epoch-00002"] and checkpoints.verify(saved[0]) is None
    state = checkpoints.read_state(saved[0])
    assert (state["stage"], state["iterations"], state["gan_checkpoint"]) == \
        ("inversion", 20, "epoch-00003")
    assert state["optimizers"] == ["optimizer"]  # the SGD's momentum is in the checkpoint
    fresh = built(wgan_config())
    fresh.generator.set_weights(model.generator.get_weights())
    assert restore_inversion(fresh, tmp_path) is True
    x = model.generator(known_latents(4), training=False)
    np.testing.assert_allclose(fresh.invert(x).numpy(), model.invert(x).numpy(), atol=1e-6)
    assert restore_inversion(built(wgan_config()), tmp_path / "elsewhere") is False


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_wgan_gp_trains_with_its_stage_and_goes_through_the_cli(tmp_path):
    from augintae_tf.images import save_png
    from augintae_tf.inference.loaded import load_run

    run_dir = tmp_path / "run"
    small = ["--set", "model.width=0.25", "--set", "model.latent_dim=8", "--set", "data.limit=64",
             "--batch-size", "16", "--epochs", "1", "--set", "model.inversion_steps=20",
             "--set", "model.inversion_drop_every=10", "--set", "model.refine_steps=5"]
    result = invoke("train", "--model", "wgan-gp", *small, "--run-dir", run_dir)
    assert result.exit_code == 0, result.output
    assert "epoch 1/2" in result.output and "inversion: 20/20 iterations" in result.output
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    # 2 epochs (twice --epochs) of 4 critic updates; the 5th critic update brought 1 generator one
    assert [r["epoch"] for r in records] == [1, 2] and records[-1]["step"] == 1
    assert (run_dir / "inversion" / "epoch-00002" / "manifest.json").is_file()
    assert (run_dir / "samples" / "epoch-002.png").stat().st_size > 0

    seeds = tmp_path / "seeds"
    pixels = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    for i, image in enumerate(pixels):
        save_png(seeds / f"s{i}.png", image)
    generated = invoke("generate", "--run-dir", run_dir, "--seeds", seeds, "--num", 4,
                       "--out", tmp_path / "gen")
    assert generated.exit_code == 0 and len(list((tmp_path / "gen").glob("0000*.png"))) == 4
    rebuilt = invoke("reconstruct", "--run-dir", run_dir, "--images", seeds, "--out",
                     tmp_path / "rec")
    assert rebuilt.exit_code == 0 and "wrote 3 reconstructions" in rebuilt.output
    assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == \
        [".generated.json", "00000.png", "00001.png", "00002.png", "grid.png"]  # + the manifest

    first = load_run(run_dir).model.invert(pixels).numpy()
    again = invoke("train", "--stage", "inversion", "--run-dir", run_dir)
    assert again.exit_code == 0 and "done: stage inversion" in again.output
    # the rerun starts over from the run's initial inversion network: the same result
    np.testing.assert_allclose(load_run(run_dir).model.invert(pixels).numpy(), first, atol=1e-6)
    refused = invoke("train", "--stage", "refine", "--run-dir", run_dir)
    assert refused.output.strip().endswith("--stage refine: model wgan-gp has the stages inversion")

    run = load_run(run_dir)
    assert run.model.inversion_ready and run.model.refine_steps == 5
    exported = invoke("export", "--run-dir", run_dir, "--out", tmp_path / "serving")
    assert exported.exit_code == 0, exported.output
    served = tf.saved_model.load(str(tmp_path / "serving" / "1"))
    assert set(served.signatures) >= {"generate", "sample"} and "encode" not in served.signatures
