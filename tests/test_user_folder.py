"""A user's own folder of images: sizes and channels inferred, the recipe stated, novel and held-out
folders, seeds of the wrong shape refused, checkpoint cadence and retention."""
import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from augintae_tf.run import checkpoints, model_state
from augintae_tf.cli.main import main

SMALL = ["--set", "model.width=0.25", "--set", "model.latent_dim=8", "--batch-size", "8",
         "--precision", "float32"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def shapes(folder, classes=("disc", "square", "bar"), n=8, size=16, colour=True, seed=0):
    """``n`` images per class of a filled shape on a dark background, colours random: one
    subfolder per class, PNG, ``size`` x ``size``, RGB or grayscale."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    for index, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            cy, cx = rng.uniform(0.35, 0.65, 2)
            mask = [(yy - cy) ** 2 + (xx - cx) ** 2 < 0.06, (abs(yy - cy) < 0.22) & (abs(xx - cx) < 0.22),
                    (abs(yy - cy) < 0.08) & (abs(xx - cx) < 0.35)][index % 3]
            colour_of = rng.integers(120, 256, 3) if colour else np.full(3, rng.integers(120, 256))
            pixels = np.where(mask[..., None], colour_of, rng.integers(0, 60)).astype(np.uint8)
            Image.fromarray(pixels if colour else pixels[..., 0]).save(folder / name / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("user")
    return {"train": shapes(root / "train"),
            "novel": shapes(root / "novel", classes=("ring", "cross"), seed=1),
            "held": shapes(root / "held", n=3, seed=2)}


@pytest.fixture(scope="module")
def rgb_run(folders, tmp_path_factory):
    """Two epochs on the 16x16 RGB folder with a novel folder, flags as a user would give."""
    run = tmp_path_factory.mktemp("runs") / "rgb"
    result = invoke("train", "--dataset", folders["train"], "--novel", folders["novel"],
                    "--held-out", folders["held"], "--epochs", 2, *SMALL, "--run-dir", run)
    assert result.exit_code == 0, result.output
    return run, result.output


# ---------------------------------------------------------------- 4. defaults follow the data
def test_a_colour_folder_trains_at_its_size_in_colour_on_the_stated_rgb_recipe(folders):
    result = invoke("train", "--dataset", folders["train"], "--batch-size", 8, "--dry-run")
    assert result.exit_code == 0, result.output
    assert (f"data: {folders['train']} holds 24 RGB images of 16x16 in 3 classes -> 16x16x3 "
            "(--image-size / --channels change it)") in result.output
    recipe = next(line for line in result.output.splitlines() if line.startswith("recipe:"))
    assert recipe.startswith("recipe: recommended-rgb: for colour images: the same levers (AugIntAE")
    assert "--config cifar10 for the paper's recipe" in recipe
    assert f"train: {folders['train']} [train] 24 images of 16x16x3" in result.output
    assert "name: augintae" in result.output and "latent_dim: 512" in result.output
    gray = invoke("train", "--dataset", folders["train"], "--channels", "1", "--image-size", "12",
                  "--batch-size", 8, "--dry-run")
    assert "images of 12x12x1" in gray.output and "recipe: recommended: for 1-channel" in gray.output
    assert "data: " not in gray.output  # nothing inferred: both given


def test_a_grayscale_folder_keeps_the_recommended_recipe_and_its_own_size(tmp_path):
    folder = shapes(tmp_path / "gray", size=20, colour=False)
    result = invoke("train", "--dataset", folder, "--batch-size", 8, "--dry-run")
    assert "holds 24 grayscale images of 20x20 in 3 classes -> 20x20x1" in result.output
    assert "recipe: recommended: for 1-channel images" in result.output
    assert "images of 20x20x1" in result.output and "name: augintae" in result.output


def test_sizes_are_never_upscaled_and_a_model_that_cannot_fit_is_refused_in_one_line(tmp_path):
    folder = shapes(tmp_path / "odd", size=30)
    Image.new("RGB", (50, 34)).save(folder / "disc" / "wide.png")  # short side 34
    result = invoke("train", "--dataset", folder, "--batch-size", 8, "--dry-run")
    assert "images of 30x30 to 50x34" in result.output and "-> 28x28x3" in result.output
    refused = invoke("train", "--dataset", folder, "--model", "fastgan", "--batch-size", 8,
                     "--dry-run")
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines()[-1] == (
        f"Error: {folder}: its smallest images are 30 px on the short side, smaller than any "
        "size model fastgan trains at (64, 128, 256); pass --image-size to upscale them")


def test_export_seeds_from_a_colour_folder_writes_colour_seeds_at_its_size(folders, tmp_path):
    result = invoke("export-seeds", "--dataset", folders["train"], "--num", 3, "--out",
                    tmp_path / "seeds")
    assert result.exit_code == 0, result.output
    assert "recipe:" not in result.output and "-> 16x16x3" in result.output
    written = sorted((tmp_path / "seeds").glob("*.png"))
    assert [(Image.open(p).size, Image.open(p).mode) for p in written] == [((16, 16), "RGB")] * 3


def test_generate_refuses_seeds_of_another_size_or_channel_count(rgb_run, folders, tmp_path):
    from augintae_tf.errors import RunError
    from augintae_tf.inference.loaded import load_run

    run, _ = rgb_run
    gray = tmp_path / "gray"
    gray.mkdir()
    for i in range(2):
        Image.fromarray(np.full((28, 28), 200, np.uint8)).save(gray / f"{i}.png")
    result = invoke("generate", "--run-dir", run, "--seeds", gray, "--out", tmp_path / "g")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: seed image {gray}/0.png is 28x28 grayscale; this run takes 16x16 RGB images "
        "(16x16x3; larger ones are centre-cropped and resized): use seeds like its training images")
    small = tmp_path / "small"
    small.mkdir()
    for i in range(2):
        Image.new("RGB", (8, 8), (200, 10, 10)).save(small / f"{i}.png")
    assert "is 8x8 RGB; this run takes 16x16 RGB" in invoke(
        "generate", "--run-dir", run, "--seeds", small, "--out", tmp_path / "g").output
    seeds = folders["novel"] / "ring"
    ok = invoke("generate", "--run-dir", run, "--seeds", seeds, "--num", 4, "--out", tmp_path / "ok")
    assert ok.exit_code == 0, ok.output
    with pytest.raises(RunError, match=r"^seed images must have shape \[N, 16, 16, 3\] for this "
                                       r"run, got \[2, 28, 28, 1\]$"):
        load_run(run).generate(np.zeros((2, 28, 28, 1), np.float32))


# ---------------------------------------------------------------- 3. novel and held-out folders
def test_novel_and_held_out_folders_are_recorded_and_a_fallback_is_named(rgb_run, folders):
    run, output = rgb_run
    data = __import__("yaml").safe_load((run / "config.yaml").read_text())["data"]
    assert (data["novel_dataset"], data["test_dataset"]) == (str(folders["novel"]), str(folders["held"]))
    assert "warning:" not in output
    bare = invoke("train", "--dataset", folders["train"], "--batch-size", 8, "--dry-run")
    warnings = [line for line in bare.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: the novel images are the training images ({folders['train']}): few-shot "
        "scores measure classes the model trained on; pass --novel PATH (a folder of other "
        "classes)",
        f"warning: the held-out images are the training images ({folders['train']}): "
        "reconstruction is measured on images the model trained on; pass --held-out PATH"]


def test_evaluate_and_compare_take_novel_and_held_out_folders(rgb_run, folders, tmp_path):
    run, _ = rgb_run
    fallback = invoke("evaluate", "--run-dir", run, "--metrics", "recon", "--novel",
                      folders["train"], "--held-out", folders["train"], "--out", tmp_path / "e1")
    assert fallback.exit_code == 0, fallback.output
    assert fallback.output.count("warning: the novel images are the training images") == 1
    assert fallback.output.count("warning: the held-out images are the training images") == 1
    own = invoke("evaluate", "--run-dir", run, "--metrics", "recon", "--out", tmp_path / "e2")
    assert own.exit_code == 0 and "warning" not in own.output, own.output
    lines = own.output.splitlines()  # each figure with the images it rests on, each load once
    assert [line.split(" (")[0] for line in lines if line.startswith("  data: ")] == [
        f"  data: 16 novel images of {folders['novel']}", f"  data: 9 held-out images of {folders['held']}"]
    assert re.fullmatch(r"recon_novel=\S+ \(16 images\) recon_test=\S+ \(9 images\)",
                        next(line for line in lines if line.startswith("recon_novel=")))
    record = json.loads((tmp_path / "e2" / "metrics.json").read_text())
    assert record["test"]["dataset"] == str(folders["held"])
    assert record["novel"]["dataset"] == str(folders["novel"]) and record["novel"]["classes"] == 2
    compared = invoke("compare", run, "--out", tmp_path / "c", "--no-quality", "--dataset",
                      folders["train"])
    assert compared.exit_code == 0, compared.output
    assert "warning: the novel images are the training images" in compared.output
    assert "— = not in RUN/eval/metrics.json (rgb)" in compared.output  # the dashes' hint


# ---------------------------------------------------------------- 6. checkpoint cadence
def test_checkpointer_cadence_first_last_every_snap_or_every_interval(tmp_path, monkeypatch):
    from augintae_tf.training.callbacks import Checkpointer

    saved = []
    monkeypatch.setattr(model_state, "save", lambda d, m, epoch, state, keep: saved.append(epoch))

    def run(epochs, stop_after=None, **options):
        saved.clear()
        now = [0.0]
        callback = Checkpointer(tmp_path, 3, lambda e: {}, epochs=epochs,
                                clock=lambda: now[0], **options)
        callback.on_train_begin()
        for epoch in range(stop_after or epochs):
            now[0] += 100.0  # 100 s per epoch
            callback.on_epoch_end(epoch, {"loss": 1.0})
        callback.on_train_end()
        return list(saved)

    assert run(7, snap=3) == [1, 3, 6, 7]
    assert run(10, snap=None, interval=300.0) == [1, 4, 7, 10]  # first, every 300 s, last
    assert run(10, snap=4, stop_after=5) == [1, 4, 5]  # stopped early: its last epoch is saved
    assert run(2, snap=None) == [1, 2]


def test_snap_and_keep_from_the_cli_and_resume_restores_the_state(folders, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--dataset", folders["train"], "--image-size", 12, "--channels", 1, *SMALL,
            "--epochs", 4, "--snap", 2, "--keep", 2, "--run-dir", run]
    assert invoke(*args).exit_code == 0
    names = [p.name for p in checkpoints.list_checkpoints(run / "checkpoints")]
    assert names == ["epoch-00002", "epoch-00004"]  # 1, 2, 4 written; keep 2
    assert "snap: 2" in (run / "config.yaml").read_text()
    shutil.rmtree(run / "checkpoints" / "epoch-00004")  # the last epoch lost: resume from 2
    resumed = invoke("train", "--resume", "--run-dir", run, "--keep", 3)  # keep may change
    assert resumed.exit_code == 0 and "(epoch 3/4" in resumed.output, resumed.output
    names = [p.name for p in checkpoints.list_checkpoints(run / "checkpoints")]
    assert names == ["epoch-00002", "epoch-00004"]  # epoch 3 is no snap; the last always is
    state = json.loads((run / "checkpoints" / "epoch-00004" / "state.json").read_text())
    assert state["step"] == state["rng_step"] == 4 * 3  # 24 images / batch 8, continued
    assert "keep_checkpoints: 3" in (run / "config.yaml").read_text()
    refused = invoke("train", "--resume", "--run-dir", run, "--lr", "0.5")
    assert "--resume refuses" in refused.output and "train.lr" in refused.output


def test_the_default_cadence_writes_the_first_and_the_last_epoch_of_a_short_run(folders, tmp_path):
    run = tmp_path / "run"
    assert invoke("train", "--dataset", folders["train"], "--image-size", 12, "--channels", 1,
                  *SMALL, "--epochs", 3, "--run-dir", run).exit_code == 0
    names = [p.name for p in checkpoints.list_checkpoints(run / "checkpoints")]
    assert names == ["epoch-00001", "epoch-00003"]
    assert re.search(r"^  snap: null$", (run / "config.yaml").read_text(), re.M)


# ---------------------------------------------------------------- held-out folder in latent-stats
def test_the_latent_stats_stage_measures_the_held_out_folder_the_user_gave(rgb_run, folders,
                                                                           tmp_path):
    """The seed-domain reference (the "held-out median" of generate's domain line) rests on the
    ``--held-out`` folder's 9 images, not the 24 training images, and moves with that folder."""
    import dataclasses

    from augintae_tf.inference.loaded import load_run
    from augintae_tf.models import latent_stats
    from augintae_tf.run.artifacts import read_arrays
    from augintae_tf.training.stages import run_latent_stats

    run, output = rgb_run
    manifest = read_arrays(run / latent_stats.STAGE).state
    assert manifest["heldout_images"] == 9
    assert manifest["heldout_source"] == [str(folders["held"]), "train"]
    assert (f"reconstruction error of 9 held-out images ({folders['held']} [train])"
            in output)
    loaded = load_run(run)
    stats = loaded.model.latent_stats
    expected = latent_stats.reconstruction_mse(
        loaded.model, __import__("augintae_tf.data", fromlist=["load_image_files"])
        .load_image_files(folders["held"], 16, 3)[0])
    np.testing.assert_allclose(stats.heldout_mse, np.sort(expected), rtol=1e-5, atol=1e-7)
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    cfg = loaded.config
    other = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data,
                                                              test_dataset=str(folders["novel"])))
    again_run = load_run(copy)
    again = run_latent_stats(again_run.model, copy, other, again_run.checkpoint,
                             echo=lambda *_: None)
    assert len(again.heldout_mse) == 16  # the novel folder: 2 classes x 8
    assert np.median(again.heldout_mse) != pytest.approx(np.median(stats.heldout_mse), rel=1e-3)


# ---------------------------------------------------------------- broken and stray files
def test_a_folder_with_broken_files_and_a_stray_pixel_trains_at_its_typical_size(tmp_path):
    """Each skipped file is named in one line, once per command although the command reads the
    folder several times; the count is of the images that load; a 1-pixel file does not set the
    size; a folder of such files only is still refused."""
    folder = shapes(tmp_path / "mine", size=16, colour=False)
    data = (folder / "disc" / "0.png").read_bytes()
    (folder / "disc" / "cut.png").write_bytes(data[: len(data) // 2])
    (folder / "bar" / "notes.png").write_text("not an image")
    Image.new("L", (1, 1), 255).save(folder / "square" / "dot.png")
    result = invoke("train", "--dataset", folder, "--batch-size", 8, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sorted(line for line in lines if "skipping" in line) == sorted([
        f"warning: skipping unreadable image {folder}/bar/notes.png: cannot identify image file "
        f"'{folder}/bar/notes.png'",
        f"warning: skipping image {folder}/square/dot.png: 1x1 is under 50% of the typical short "
        f"side of the images in {folder} (16 px, the median)",
        f"warning: skipping unreadable image {folder}/disc/cut.png: image file is truncated"])
    assert (f"data: {folder} holds 24 grayscale images of 16x16 in 3 classes (skipped 2 "
            "unreadable files and 1 image under 50% of the typical 16 px) -> 16x16x1 (--image-size "
            "/ --channels change it)") in lines
    assert f"train: {folder} [train] 24 images of 16x16x1" in result.output
    assert "UserWarning" not in result.output and "load_folder(" not in result.output
    dots = tmp_path / "dots"
    dots.mkdir()
    for i in range(3):
        Image.new("L", (1, 1), 255).save(dots / f"{i}.png")
    refused = invoke("train", "--dataset", dots, "--batch-size", 8, "--dry-run")
    assert refused.exit_code == 1 and refused.output.strip().splitlines()[-1].startswith(
        f"Error: {dots}: its smallest images are 1 px on the short side, smaller than any size")
