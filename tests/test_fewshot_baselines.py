"""DAGAN and the Neural Statistician: pure functions against direct computations, one train step
on tiny labelled random data, few-shot generation, and the CLI on glyphs (train, generate,
evaluate, export) through the model contract."""
import json
import math
import shutil

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from augintae_tf.cli.main import main
from augintae_tf.config import validate
from augintae_tf.models.dagan.model import wasserstein_losses
from augintae_tf.models.two_player import gradient_penalty
from augintae_tf.models.statistician.model import bernoulli_log_likelihood, gaussian_kl
from augintae_tf.training import build

from conftest import small_model_config


def _model(name, **section):
    cfg = validate(small_model_config(name))
    for key, value in section.items():
        setattr(cfg.model, key, value)
    return build(cfg, 10)


def _sets(n, size, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, size, 12, 12, 1)).astype(np.float32)


def test_gradient_penalty_matches_direct_computation():
    rng = np.random.default_rng(0)
    real, fake = rng.uniform(size=(2, 3, 4, 4, 1)).astype(np.float32)
    eps = np.array([0.0, 0.3, 1.0], np.float32)
    w = rng.normal(size=(4, 4, 1)).astype(np.float32)
    linear = gradient_penalty(lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3]), real, fake, eps)
    np.testing.assert_allclose(linear, (np.linalg.norm(w) - 1.0) ** 2, rtol=1e-5)
    # critic 0.5 * ||x||^2 has gradient x: the penalty is mean((||mixed_i|| - 1)^2)
    quadratic = gradient_penalty(lambda x: 0.5 * tf.reduce_sum(x * x, axis=[1, 2, 3]),
                                 real, fake, eps)
    mixed = eps[:, None, None, None] * real + (1 - eps[:, None, None, None]) * fake
    norms = np.linalg.norm(mixed.reshape(3, -1), axis=1)
    np.testing.assert_allclose(quadratic, np.mean((norms - 1.0) ** 2), rtol=1e-5)
    d_loss, g_loss = wasserstein_losses([[1.0], [3.0]], [[0.5], [-1.5]])
    assert (float(d_loss), float(g_loss)) == (-2.5, 0.5)


def _moved(model, step):
    before = [v.numpy().copy() for v in model.trainable_variables]
    logs = step()
    return logs, [v for v, b in zip(model.trainable_variables, before)
                  if np.array_equal(v.numpy(), b)]


def test_dagan_step_updates_every_variable_and_the_critic_sees_pairs():
    model = _model("dagan", critic_updates=1)
    assert model.discriminator.input_shape[-1] == 2  # (seed, image) pairs: 2 x channels
    data = (tf.constant(_sets(4, 2)), tf.zeros([4], tf.int32))
    logs, unchanged = _moved(model, lambda: model.train_step(data))
    # the critic's output bias cancels in E[D(fake)] - E[D(real)] and in the penalty: its
    # gradient is exactly 0, so it is the one variable that never moves
    assert len(unchanged) == 1 and unchanged[0] is model.discriminator.get_layer("out").bias
    assert all(math.isfinite(float(v)) for v in logs.values())
    seeds, other = tf.constant(_sets(2, 2, 1)[:, 0]), tf.constant(_sets(2, 2, 1)[:, 1])
    # the score depends on the seed channel, not only on the judged image
    assert not np.allclose(model.critic_scores(seeds, other), model.critic_scores(other, other))


def test_dagan_updates_the_generator_once_per_critic_updates_steps():
    model = _model("dagan", critic_updates=3)
    data = (tf.constant(_sets(4, 2)), tf.zeros([4], tf.int32))
    step = tf.function(model.train_step)
    counts = []
    for _ in range(6):
        step(data)
        counts.append((int(model.d_optimizer.iterations.numpy()),
                       int(model.optimizer.iterations.numpy())))
    assert counts == [(1, 0), (2, 0), (3, 1), (4, 1), (5, 1), (6, 2)]


@pytest.mark.parametrize("name", ["dagan", "neural-statistician"])
def test_fewshot_count_shape_determinism_and_dependence_on_seeds(name):
    model = _model(name)
    seeds = tf.constant(_sets(1, 5)[0])
    images = model.fewshot(seeds, 7, 3).numpy()
    assert images.shape == (7, 12, 12, 1) and 0 <= images.min() and images.max() <= 1
    np.testing.assert_array_equal(images, model.fewshot(seeds, 7, 3).numpy())
    assert not np.allclose(images, model.fewshot(seeds, 7, 4).numpy())  # the generation seed
    assert not np.allclose(images, model.fewshot(seeds * 0.2, 7, 3).numpy())  # the seed images
    chunked = model.fewshot(seeds, 7, 3, batch_size=3).numpy()
    np.testing.assert_allclose(chunked, images, atol=1e-6)


def test_statistic_network_is_permutation_invariant_over_a_set():
    model = _model("neural-statistician")
    sets = _sets(3, 5)
    shuffled = sets[:, [3, 0, 4, 2, 1]]
    _, (mu, logvar) = model.encode_sets(sets)
    _, (mu_s, logvar_s) = model.encode_sets(shuffled)
    np.testing.assert_allclose(mu_s, mu, atol=1e-5)
    np.testing.assert_allclose(logvar_s, logvar, atol=1e-5)
    _, (other, _) = model.encode_sets(sets[:, ::-1] * 0.5)
    assert not np.allclose(other, mu, atol=1e-4)  # ...but not blind to the content


def test_statistician_step_updates_every_variable_with_a_finite_elbo():
    model = _model("neural-statistician")
    data = (tf.constant(_sets(3, 5)), tf.zeros([3], tf.int32))
    logs, unchanged = _moved(model, lambda: model.train_step(data))
    assert unchanged == [] and all(math.isfinite(float(v)) for v in logs.values())
    assert float(logs["vlb"]) == pytest.approx(float(logs["recon_ll"]) - float(logs["kl"]),
                                               rel=1e-5)
    # loss = -(w * recon - kl / w) with w = 1 + 0.5^0 = 2 at step 0
    assert float(logs["loss"]) == pytest.approx(-(2 * float(logs["recon_ll"])
                                                  - float(logs["kl"]) / 2), rel=1e-5)


def test_gaussian_kl_and_bernoulli_likelihood_match_closed_forms():
    rng = np.random.default_rng(2)
    mq, lq, mp, lp = rng.normal(size=(4, 3, 6))
    expected = 0.5 * np.sum(lp - lq + (np.exp(lq) + (mq - mp) ** 2) / np.exp(lp) - 1, axis=-1)
    np.testing.assert_allclose(gaussian_kl(mq, lq, mp, lp), expected, rtol=1e-5)
    assert np.allclose(gaussian_kl(mq, lq, mq, lq), 0.0, atol=1e-6)
    x, p = rng.uniform(size=(2, 2, 4, 4, 1))
    ll = np.sum((x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(2, -1), axis=1)
    np.testing.assert_allclose(bernoulli_log_likelihood(x, p), ll, rtol=1e-5)


class _Features:
    name = "fake"

    def __call__(self, images, progress=False):
        flat = np.asarray(images, np.float64).reshape(len(images), -1)
        return np.stack([flat.mean(1), flat.std(1), flat[:, ::5].mean(1)], axis=1)


def _fake_fid(run, out, monkeypatch):
    """The fid metric with a stand-in feature network (no Inception weights offline)."""
    from augintae_tf.evaluation import builtin, table
    from augintae_tf.evaluation.evaluate_run import evaluate

    monkeypatch.setattr(table, "METRIC_TABLE", dict(table.METRIC_TABLE))
    table.register_metric("fid", builtin.fid, prepare=lambda options: _Features())
    return evaluate(run, metrics="fid", out=out, num_images=20, progress=False)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# compare's few-shot quality table for a model without a latent: once (dagan), not per model
@pytest.mark.parametrize("name, limit, quality", [("dagan", 560, "--quality"),
                                                  ("neural-statistician", 1400, "--no-quality")])
def test_cli_train_generate_evaluate_export_on_glyphs(tmp_path, name, limit, quality, monkeypatch,
                                                       tiny_run):
    run = tmp_path / "run"
    small = ["--set", "model.width=0.25", "--set", "model.latent_dim=8", "--set",
             f"data.limit={limit}", "--batch-size", "20", "--epochs", "1", "--set",
             "train.steps_per_epoch=2"]
    result = invoke("train", "--model", name, *small, "--run-dir", run)
    assert result.exit_code == 0, result.output
    assert "0 classes with fewer than" in result.output and "from 280 classes" in result.output
    assert invoke("export-seeds", "--dataset", "glyphs", "--split", "test", "--num", "5",
                  "--out", tmp_path / "seeds").exit_code == 0
    generated = invoke("generate", "--run-dir", run, "--seeds", tmp_path / "seeds", "--num", 6,
                       "--out", tmp_path / "gen")
    assert generated.exit_code == 0 and len(list((tmp_path / "gen").glob("0*.png"))) == 6
    refused = invoke("evaluate", "--run-dir", run, "--metrics", "recon")
    assert refused.exit_code == 1
    assert refused.output.strip().endswith("need a capability model "
                                           f"{name.replace('-', '_')} lacks (it has: fewshot)")
    evaluated = invoke("evaluate", "--run-dir", run, "--metrics", "fd-clf,interp",
                       "--num-images", 30, "--classifier-epochs", 1, "--classifier-limit", 300)
    assert evaluated.exit_code == 0, evaluated.output
    record = json.loads((run / "eval" / "metrics.json").read_text())
    assert math.isfinite(record["fd_clf"]) and "recon_test" not in record
    fid = _fake_fid(run, tmp_path / "fid", monkeypatch)
    assert fid["fid_fewshot"] >= 0 and fid["fid_random"] is None  # no latent to sample
    exported = invoke("export", "--run-dir", run, "--out", tmp_path / "serving")
    assert exported.exit_code == 0, exported.output
    served = tf.saved_model.load(str(tmp_path / "serving" / "1"))
    assert set(served.signatures) == {"generate", "serving_default"}
    compared = invoke("compare", run, tiny_run, "--out", tmp_path / "cmp", quality,
                      "--num-images", 30, "--classifier-epochs", 1, "--classifier-limit", 300)
    assert compared.exit_code == 0, compared.output
    table = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    assert [row["model"] for row in table["runs"]] == [name, "augintae"]
    if quality == "--quality":  # one generated row per run beside the reference rows
        assert list(table["quality"]["rows"]) == ["run", "tiny", "floor", "seed_copies",
                                                      "seed_augmented", "crossfade"]
    else:
        assert table["quality"] is None


def test_cli_unlabelled_folder_names_the_model_and_labelled_sources(tmp_path):
    from PIL import Image

    for i in range(4):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    result = invoke("train", "--model", "dagan", "--dataset", tmp_path, "--epochs", "1",
                    "--run-dir", tmp_path / "run")
    assert result.exit_code != 0 and not (tmp_path / "run").exists()  # refused before the run
    assert result.output.strip().splitlines()[-1].startswith(
        f"Error: model 'dagan' trains on class-labelled sets, but '{tmp_path}' has no class "
        "labels (a folder without class subfolders); sources with labels: glyphs, digits, image folders")


def test_dry_run_reports_the_sets_and_skipped_classes():
    result = invoke("train", "--model", "neural-statistician", "--set", "data.limit=1500",
                    "--set", "model.width=0.25", "--dry-run")
    assert result.exit_code == 0, result.output
    # instance-major glyphs: the first 1500 images give 100 classes 6 images and 180 classes 5
    assert ("train sets: sets of 5 same-class images from 280 classes (1500 images); 0 classes "
            "with fewer than 5 images skipped") in result.output
    assert "statistic:" in result.output and "inference:" in result.output
    short = invoke("train", "--model", "neural-statistician", "--set", "data.limit=1200",
                   "--set", "model.width=0.25", "--dry-run")
    assert "from 80 classes (400 images); 200 classes with fewer than 5 images skipped" \
        in short.output


def test_dagan_checkpoint_round_trip_and_resume(tmp_path):
    from augintae_tf.inference.loaded import load_run
    from augintae_tf.training import train

    from conftest import tiny_config

    cfg = tiny_config(**{"model.name": "dagan", "data.limit": 560, "train.batch_size": 20,
                         "train.epochs": 2, "train.steps_per_epoch": 3,
                         "model.critic_updates": 2})
    run_dir = tmp_path / "run"
    train(cfg, run_dir, echo=lambda *_: None)
    seeds = tf.constant(np.random.default_rng(3).uniform(size=(4, 28, 28, 1)), tf.float32)
    images = load_run(run_dir).model.fewshot(seeds, 5, 1).numpy()
    again = load_run(run_dir).model  # the weights, not a fresh initialisation, come back
    np.testing.assert_array_equal(again.fewshot(seeds, 5, 1).numpy(), images)
    shutil.rmtree(run_dir / "checkpoints" / "epoch-00002")  # lose the last epoch, resume it
    result = train(cfg, run_dir, resume=True, echo=lambda *_: None)
    assert result.epochs_done == 2
    state = json.loads((run_dir / "checkpoints" / "epoch-00002" / "state.json").read_text())
    assert state["rng_step"] == 6 and state["step"] == 3  # 6 critic steps, 3 generator steps
