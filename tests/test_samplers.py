"""Few-shot samplers, the latent-stats stage behind the local ones, the seed-domain warning and the
augmented-copies reference row."""
import json
import math
import shutil

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from augintae_tf.run import artifacts, checkpoints, model_state
from augintae_tf.models import latent_stats
from augintae_tf.cli.main import main
from augintae_tf.config.choices import SAMPLER_TABLE
from augintae_tf.data import load_arrays
from augintae_tf.errors import RunError
from augintae_tf.latent import sample_latents, sample_seed_pairs, slerp
from augintae_tf.inference.loaded import load_run
from augintae_tf.inference.stage_results import read_latent_stats
from augintae_tf.training import train
from augintae_tf.training.stages import run_latent_stats, save_latent_stats
from conftest import tiny_config

SAMPLERS = ("slerp", "local", "slerp-local", "local-edit", "convex")


def unit(n, d, seed):
    z = np.random.default_rng(seed).normal(size=(n, d))
    return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)


# --- samplers ------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_each_sampler_gives_unit_latents_deterministic_for_a_seed(sampler):
    z, factor = unit(5, 16, 0), np.eye(16, dtype=np.float32) * 0.2
    draw = lambda seed: sample_latents(z, 300, seed, sampler, 0.7, factor).numpy()  # noqa: E731
    out = draw(3)
    assert out.shape == (300, 16)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out, draw(3))
    assert np.abs(out - draw(4)).max() > 0.1
    assert len(np.unique(out.round(4), axis=0)) > 250  # new latents, not a handful of copies


def test_zero_scale_leaves_the_seed_or_the_slerp_point():
    z, factor = unit(4, 8, 1), np.eye(8, dtype=np.float32)
    first, second, alpha = sample_seed_pairs(4, 50, 9)
    np.testing.assert_allclose(sample_latents(z, 50, 9, "local", 0.0, factor),
                               tf.gather(z, first), atol=1e-6)
    np.testing.assert_allclose(sample_latents(z, 50, 9, "slerp-local", 0.0, factor),
                               slerp(tf.gather(z, first), tf.gather(z, second), alpha), atol=1e-6)
    np.testing.assert_allclose(sample_latents(z, 50, 9, "slerp"),
                               slerp(tf.gather(z, first), tf.gather(z, second), alpha), atol=1e-7)


def test_local_noise_has_the_scaled_covariance():
    """Noise F eps with F F^T = C, times the scale: at a small scale the normalisation barely
    bends it, so the latents' covariance is scale^2 C (C has no variance along the seed)."""
    d, scale = 6, 0.02
    a = np.random.default_rng(2).normal(size=(d, d))
    cov = a @ a.T
    cov[0, :] = cov[:, 0] = 0.0  # the seed is e_0: noise only in its tangent plane
    factor = latent_stats.covariance_factor(cov).astype(np.float32)
    np.testing.assert_allclose(factor @ factor.T, cov, atol=1e-4)
    seeds = np.tile(np.eye(d, dtype=np.float32)[:1], (2, 1))
    out = sample_latents(seeds, 40_000, 1, "local", scale, factor).numpy().astype(np.float64)
    np.testing.assert_allclose(np.cov(out, rowvar=False) / scale ** 2, cov,
                               atol=0.05 * np.abs(cov).max())


def test_convex_combinations_stay_inside_the_seeds_cone():
    z = unit(3, 3, 5)
    out = sample_latents(np.concatenate([z, z[:1]]), 500, 2, "convex").numpy()
    weights = np.linalg.solve(z.T, out.T).T  # out = w @ z / norm: w >= 0 for all images
    assert weights.min() > -1e-5
    same = sample_latents(np.repeat(z[:1], 4, axis=0), 10, 2, "convex").numpy()
    np.testing.assert_allclose(same, np.repeat(z[:1], 10, axis=0), atol=1e-6)


def test_unknown_sampler_and_missing_factor_are_refused():
    with pytest.raises(ValueError, match="sampler 'nearest' is unknown; expected one of slerp"):
        sample_latents(unit(2, 4, 0), 3, 0, "nearest")
    with pytest.raises(ValueError, match="needs the run's latent statistics"):
        sample_latents(unit(2, 4, 0), 3, 0, "local")


@pytest.mark.parametrize("sampler", [name for name, row in SAMPLER_TABLE.items()
                                     if row.output != "images"])
def test_each_row_of_the_sampler_table_holds_for_its_sampler(sampler):
    """A row's facts are what its sampler does: it draws from ``seeds`` seed images but not from
    fewer, and its noise (``statistic``) needs the factor: without noise (scale 0) a one-seed
    sampler returns its seed's latent, and only the noisy ones move with the factor."""
    row, z, factor = SAMPLER_TABLE[sampler], unit(3, 4, 1), np.eye(4, dtype=np.float32)
    enough = sample_latents(z[:row.seeds], 5, 2, sampler, 0.0, factor).numpy()
    assert enough.shape == (5, 4) and np.allclose(np.linalg.norm(enough, axis=1), 1, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="generate needs at least"):
        sample_latents(z[:row.seeds - 1], 5, 2, sampler, 0.0, factor)
    if row.seeds == 1:
        np.testing.assert_allclose(enough, np.repeat(z[:1], 5, axis=0), atol=1e-6)
    moved = sample_latents(z, 5, 2, sampler, 0.5, factor).numpy()
    still = sample_latents(z, 5, 2, sampler, 0.5, 2 * factor).numpy()
    assert (np.abs(moved - still).max() > 1e-3) == (row.statistic is not None)


# --- the local covariance ------------------------------------------------------------------
def test_local_covariance_matches_a_brute_force_reference():
    z = unit(60, 5, 3).astype(np.float64)
    k = 4
    expected = np.zeros((5, 5))
    for i in range(len(z)):
        distance = np.linalg.norm(z - z[i], axis=1)
        distance[i] = np.inf
        hood = np.concatenate([z[i:i + 1], z[np.argsort(distance)[:k]]])
        expected += np.cov(hood, rowvar=False, ddof=1)  # k + 1 points: divides by k
    np.testing.assert_allclose(latent_stats.local_covariance(z, k, chunk=7), expected / len(z),
                               rtol=1e-10, atol=1e-12)


# --- the stage on a trained run ------------------------------------------------------------
@pytest.fixture(scope="module")
def ae_run(tmp_path_factory, glyph_cache):
    """An AE that has learnt glyphs somewhat (6 epochs of 16 steps, constant lr), with its
    latent stats."""
    import keras

    keras.utils.set_random_seed(0)  # the same initial weights whatever ran before
    run_dir = tmp_path_factory.mktemp("samplers") / "ae"
    cfg = tiny_config(**{"model.name": "ae", "model.latent_dim": 16, "data.limit": 1024,
                         "train.epochs": 6, "train.batch_size": 64, "train.lr_drops": []})
    train(cfg, run_dir, echo=lambda *_: None)
    return run_dir


@pytest.fixture(scope="module")
def glyph_seeds():
    """Five unseen training-domain images (background alphabets past data.limit) and five
    images of one novel character."""
    cfg = tiny_config().data
    train_images, _ = load_arrays(cfg, "train", limit=2000)
    novel, labels = load_arrays(cfg, "test", limit=400)
    return train_images[1900:1905], novel[labels == np.bincount(labels).argmax()][:5]


def test_training_writes_the_statistics_and_loading_restores_them(ae_run):
    folder = ae_run / latent_stats.STAGE
    saved = artifacts.read_arrays(folder)
    latest = checkpoints.latest_checkpoint(ae_run / "checkpoints")
    assert saved.state["checkpoint"] == latest.name and saved.state["k"] == 10
    assert checkpoints.list_checkpoints(folder) == [saved.path]
    assert saved.state["weights_sha256"] == checkpoints.weights_sha256(latest)
    stats = load_run(ae_run).model.latent_stats
    assert stats.cov.shape == stats.factor.shape == (16, 16)
    np.testing.assert_allclose(stats.factor @ stats.factor.T, stats.cov, atol=1e-6)
    cfg = load_run(ae_run).config.data  # held-out = the run's test split (data.limit applies)
    assert len(stats.heldout_mse) == len(load_arrays(cfg, cfg.test_split)[0]) > 100
    assert np.all(np.diff(stats.heldout_mse) >= 0)


def test_statistics_round_trip_and_a_crashed_rewrite_keeps_the_old_ones(ae_run, tmp_path,
                                                                        monkeypatch):
    run_dir = tmp_path / "copy"
    shutil.copytree(ae_run, run_dir)
    latest = checkpoints.latest_checkpoint(run_dir / "checkpoints")
    before, problem = read_latent_stats(run_dir, latest)
    assert problem is None
    changed = latent_stats.LatentStats(before.cov * 2, before.factor * math.sqrt(2),
                                       before.heldout_mse, 3, latest.name)
    real = checkpoints._publish

    def crash(*args, **kwargs):  # killed after the files, before the new version takes its name
        raise OSError("simulated crash")

    monkeypatch.setattr(checkpoints, "_publish", crash)
    with pytest.raises(OSError):
        save_latent_stats(run_dir, changed, latest)
    still, problem = read_latent_stats(run_dir, latest)
    assert problem is None and np.array_equal(still.cov, before.cov)
    monkeypatch.setattr(checkpoints, "_publish", real)
    save_latent_stats(run_dir, changed, latest)
    after, problem = read_latent_stats(run_dir, latest)
    assert problem is None and after.k == 3 and np.array_equal(after.cov, before.cov * 2)
    assert len(checkpoints.list_checkpoints(run_dir / latent_stats.STAGE)) == 1


def test_damaged_or_stale_statistics_are_not_used(ae_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(ae_run, run_dir)
    folder = run_dir / latent_stats.STAGE
    stats_file = next(folder.glob("epoch-*/arrays.npz"))
    stats_file.write_bytes(stats_file.read_bytes()[:-3])
    run = load_run(run_dir)
    assert run.model.latent_stats is None and "are damaged" in run.model.latent_stats_problem
    shutil.rmtree(folder)
    run = load_run(run_dir)
    run_latent_stats(run.model, run_dir, tiny_config(), run.checkpoint, echo=lambda *_: None)
    assert load_run(run_dir).model.latent_stats is not None
    # the checkpoint saved again with other weights (as a resumed run re-saves an epoch):
    state = checkpoints.read_state(run.checkpoint)
    run.model.encoder.set_weights([w + 0.01 for w in run.model.encoder.get_weights()])
    model_state.save(run_dir / "checkpoints", run.model, state["epoch"],
                     {k: v for k, v in state.items() if k not in ("epoch", "format", "optimizers")})
    again = load_run(run_dir)
    assert again.checkpoint.name == run.checkpoint.name and again.model.latent_stats is None
    assert ("describe other weights than checkpoint epoch-00006 holds now (saved again since)"
            in again.model.latent_stats_problem)


def test_statistics_an_earlier_version_stored_still_load_and_a_rerun_replaces_them(ae_run,
                                                                                  tmp_path):
    """The earlier format (``manifest.json`` naming ``stats-<sha>.npz``, its size and SHA-256)
    is read; a damaged one is refused; the stage's next version removes its files."""
    import hashlib
    import io

    run_dir = tmp_path / "copy"
    shutil.copytree(ae_run, run_dir)
    folder = run_dir / latent_stats.STAGE
    saved = artifacts.read_arrays(folder)
    shutil.rmtree(saved.path)
    buffer = io.BytesIO()
    np.savez(buffer, **saved.arrays)
    data = buffer.getvalue()
    name = f"stats-{hashlib.sha256(data).hexdigest()[:16]}.npz"
    (folder / name).write_bytes(data)
    fields = {k: v for k, v in saved.state.items() if k not in ("epoch", "format")}
    (folder / "manifest.json").write_text(json.dumps(
        {**fields, "format": 1, "file": name, "size": len(data),
         "sha256": hashlib.sha256(data).hexdigest()}))
    stats = load_run(run_dir).model.latent_stats
    np.testing.assert_array_equal(stats.cov, saved.arrays["cov"])
    assert stats.within_class == saved.state["within_class"] and stats.k == saved.state["k"]
    (folder / name).write_bytes(data[:-3])
    assert "are damaged" in load_run(run_dir).model.latent_stats_problem
    run = load_run(run_dir)
    run_latent_stats(run.model, run_dir, tiny_config(), run.checkpoint, echo=lambda *_: None)
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-00001"]
    assert load_run(run_dir).model.latent_stats is not None


def test_cli_stage_computes_what_a_local_sampler_asks_for(ae_run, glyph_seeds, tmp_path):
    run_dir = tmp_path / "old run"
    shutil.copytree(ae_run, run_dir)
    shutil.rmtree(run_dir / latent_stats.STAGE)  # a run trained before the stage existed
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    from augintae_tf.images import save_png
    for i, image in enumerate(glyph_seeds[1]):
        save_png(seeds / f"{i}.png", image)
    args = ["generate", "--run-dir", str(run_dir), "--seeds", str(seeds), "--num", "6"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a"), "--sampler", "local"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: --sampler local needs the run's latent statistics: run {run_dir} has no latent "
        f"statistics; compute them with `augintae-tf train --stage latent-stats --run-dir "
        f"{run_dir}`"]
    assert not (tmp_path / "a").exists()
    result = CliRunner().invoke(main, ["train", "--stage", "latent-stats", "--run-dir", str(run_dir)])
    assert result.exit_code == 0 and "latent-stats stage: local covariance" in result.output
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), "--sampler", "local",
                                       "--scale", "0.5", "--seed", "4"])
    assert result.exit_code == 0 and "sampler local" in result.output, result.output
    written = sorted((tmp_path / "b").glob("0*.png"))
    assert len(written) == 6
    from augintae_tf.data import load_image_files
    library = load_run(run_dir).generate(load_image_files(str(seeds), 28, 1)[0], 6, 4,
                                         sampler="local", scale=0.5)
    cli = load_image_files(str(tmp_path / "b"), 28, 1)[0]
    assert np.abs(cli - library).max() <= 1 / 255 + 1e-6  # PNG quantisation only


def test_a_runs_sampler_fields_can_change_without_retraining(ae_run, glyph_seeds, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(ae_run, run_dir)
    text = (run_dir / "config.yaml").read_text()
    assert "  sampler: slerp\n" in text
    (run_dir / "config.yaml").write_text(text.replace("  sampler: slerp\n", "  sampler: convex\n"))
    run = load_run(run_dir)
    np.testing.assert_array_equal(run.generate(glyph_seeds[1], 5, 2),
                                  run.generate(glyph_seeds[1], 5, 2, sampler="convex"))
    (run_dir / "config.yaml").write_text(text.replace("latent_dim: 16", "latent_dim: 32"))
    with pytest.raises(RunError, match=r"model.latent_dim: 16 -> 32\); restore config.yaml"):
        load_run(run_dir)


def test_a_runs_noisy_sampler_falls_back_to_slerp_until_its_statistics_exist(
        ae_run, glyph_seeds, tmp_path, capsys):
    run_dir = tmp_path / "copy"
    shutil.copytree(ae_run, run_dir)
    text = (run_dir / "config.yaml").read_text()
    (run_dir / "config.yaml").write_text(text.replace("  sampler: slerp\n",
                                                      "  sampler: local-edit\n"))
    seeds = glyph_seeds[1]
    with_stats = load_run(run_dir)
    assert with_stats.model.default_sampler() == "local-edit"
    np.testing.assert_array_equal(with_stats.generate(seeds, 4, 1),
                                  with_stats.generate(seeds, 4, 1, sampler="local-edit"))
    shutil.rmtree(run_dir / latent_stats.STAGE)  # as while the run is still training
    run = load_run(run_dir)
    capsys.readouterr()
    np.testing.assert_array_equal(run.generate(seeds, 4, 1),
                                  run.generate(seeds, 4, 1, sampler="slerp"))
    assert capsys.readouterr().err.splitlines() == [
        f"warning: the run's sampler local-edit needs its latent statistics (run {run_dir} has no "
        f"latent statistics; compute them with `augintae-tf train --stage latent-stats --run-dir "
        f"{run_dir}`); generating with slerp"]
    with pytest.raises(RunError, match="--sampler local-edit needs the run's latent statistics"):
        run.generate(seeds, 4, 1, sampler="local-edit")


def test_seed_domain_warns_for_another_domain_only(ae_run, glyph_seeds, capsys):
    run = load_run(ae_run)
    same, novel = glyph_seeds
    assert run.model.latent_stats.heldout_mse[len(same) // 2] < 0.05  # it did learn glyphs
    for seeds in (same, novel):
        assert not run.seed_domain(seeds).outside, run.seed_domain(seeds).line()
    inverted = 1.0 - same  # black strokes on white: a scan the model never saw the like of
    domain = run.seed_domain(inverted)
    assert domain.outside and domain.quantile == 1.0 and domain.ratio > latent_stats.DOMAIN_RATIO
    assert "outside the model's training domain" in domain.line()
    run.generate(inverted, 4, 0)
    assert "outside the model's training domain" in capsys.readouterr().err
    run.generate(same, 4, 0)
    assert capsys.readouterr().err == ""


def test_local_edit_adds_the_decoded_change_to_the_seed_itself(ae_run, glyph_seeds):
    run, seeds = load_run(ae_run), glyph_seeds[1]
    first = sample_seed_pairs(len(seeds), 12, 3)[0].numpy()
    still = run.generate(seeds, 12, 3, sampler="local-edit", scale=0.0)
    np.testing.assert_allclose(still, seeds[first], atol=1e-6)  # no change: the seeds, exactly
    edited = run.generate(seeds, 12, 3, sampler="local-edit", scale=1.0)
    latent = run.generate(seeds, 12, 3, sampler="local", scale=1.0)
    recon = run.model(seeds, training=False).numpy()[first]
    np.testing.assert_allclose(edited, np.clip(seeds[first] + latent - recon, 0, 1), atol=1e-5)


def test_compare_scores_one_row_per_sampler_on_the_shared_plan(ae_run, tmp_path):
    out = tmp_path / "cmp"
    result = CliRunner().invoke(main, ["compare", "--run-dir", str(ae_run), "--out", str(out),
                                       "--sampler", "slerp", "--sampler", "local-edit",
                                       "--scale", "0.5", "--num-images", "40",
                                       "--classifier-epochs", "1", "--classifier-limit", "300"])
    assert result.exit_code == 0, result.output
    quality = json.loads((out / "metrics.json").read_text())["quality"]
    rows = quality["rows"]
    assert list(rows)[:3] == ["ae [slerp]", "ae [local-edit]", "floor"]
    assert "seed_augmented" in rows and rows["ae [local-edit]"]["images"] == 40
    # 40 images are too few for an FD in the classifier's 64 features: shown "?", kept aside
    assert rows["ae [local-edit]"]["fd"] is None and "fd" in quality["withheld"]["reasons"]
    kept = quality["withheld"]["values"]
    assert kept["ae [local-edit]"]["fd"] != kept["ae [slerp]"]["fd"]


def test_samplers_a_model_does_not_have_are_refused(ae_run):
    model = load_run(ae_run).model
    model.samplers = ("slerp",)  # as the VAE's
    with pytest.raises(RunError, match="--sampler convex: model ae has the samplers slerp"):
        model.check_sampler("convex")


# --- the within-class covariance and its samplers ------------------------------------------
def test_within_statistics_round_trip_and_older_files_refuse_the_within_samplers(ae_run, tmp_path):
    run = load_run(ae_run)
    stats = run.model.latent_stats
    assert stats.within_cov is not None  # glyphs are labelled: the stage computed W
    np.testing.assert_allclose(stats.within_factor @ stats.within_factor.T, stats.within_cov,
                               atol=1e-5)
    copy = tmp_path / "run"
    shutil.copytree(ae_run, copy)
    ckpt = checkpoints.latest_checkpoint(copy / "checkpoints")
    old = latent_stats.LatentStats(stats.cov, stats.factor, stats.heldout_mse, stats.k, ckpt.name)
    save_latent_stats(copy, old, ckpt)
    reloaded = load_run(copy)
    assert reloaded.model.latent_stats.within_cov is None
    seeds = np.asarray(load_arrays(tiny_config().data, "test", limit=5)[0])
    reloaded.generate(seeds, num=3, seed=0, sampler="local-edit")  # the local ones still work
    with pytest.raises(RunError, match="--sampler within-edit needs the within-class covariance"):
        reloaded.generate(seeds, num=3, seed=0, sampler="within-edit")


def test_within_edit_adds_the_decoded_change_of_a_within_class_step(ae_run, glyph_seeds):
    run = load_run(ae_run)
    model, seeds = run.model, glyph_seeds[1]
    out = run.generate(seeds, num=6, seed=2, sampler="within-edit", scale=1.0)
    z = sample_latents(model.encode(seeds), 6, 2, "within-edit", 1.0,
                       model.latent_stats.within_factor)
    first = sample_seed_pairs(len(seeds), 6, 2)[0].numpy()
    recon = model.decode(model.encode(seeds)).numpy()
    expected = np.clip(seeds[first] + model.decode(z).numpy() - recon[first], 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-5)
