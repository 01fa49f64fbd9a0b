"""What users give the CLI: other people's files in an --out, hostile
or odd YAML, out-of-range integers, a huge --num, a FIFO for seeds, and a read-only run
evaluated elsewhere. Each asserts one line (a non-zero exit), the user's files intact, and
memory bounded (a huge request refused or streamed)."""
import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from augintae_tf.inference import generation
from test_checkpoint_faults import cli, invoke, one_line_error
from test_links_and_read_only import read_only, snapshot  # noqa: F401  (read_only: a fixture)

SMALL = ["--set", "model.width=0.25", "--set", "model.latent_dim=8", "--set", "data.limit=64",
         "--precision", "float32", "--epochs", "1"]


def _mine(path: Path, value: int = 77) -> Path:
    """A file of the user's: a small grey PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), value).save(path)
    return path


# ---------------------------------------------------------------- other people's files
def test_export_seeds_never_replaces_the_users_files(tmp_path):
    out = tmp_path / "seeds"
    _mine(out / "seed-00.png")
    mine = snapshot(out)
    result = invoke("export-seeds", "--num", "3", "--out", out)
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"Error: --out {out} is not empty; choose an empty folder or pass --overwrite")
    result = invoke("export-seeds", "--num", "3", "--out", out, "--overwrite")
    assert one_line_error(result.output) == (
        f"Error: --out {out}: --overwrite refuses to replace {out}/seed-00.png, which no earlier "
        f"generation wrote (not listed in {out}/.generated.json); choose another folder or move it")
    assert snapshot(out) == mine
    fresh = tmp_path / "fresh"
    assert invoke("export-seeds", "--num", "3", "--out", fresh).exit_code == 0
    assert invoke("export-seeds", "--num", "2", "--out", fresh, "--overwrite").exit_code == 0
    assert sorted(p.name for p in fresh.iterdir()) == [".generated.json", "seed-00.png",
                                                       "seed-01.png"]  # no stale seed-02.png


def test_augment_preview_replaces_an_existing_file_only_with_overwrite(tmp_path):
    out = _mine(tmp_path / "preview.png")
    mine = out.read_bytes()
    result = invoke("augment-preview", "--num", "2", "--copies", "2", "--out", out)
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"Error: --out {out} already exists; pass --overwrite to replace it")
    assert out.read_bytes() == mine
    result = invoke("augment-preview", "--num", "2", "--copies", "2", "--out", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert Image.open(out).size != (8, 8)


def test_evaluate_and_compare_out_keep_the_users_metrics(tiny_run, tmp_path):
    tiny_run = Path(shutil.copytree(tiny_run, tmp_path / "run"))  # evaluate appends to its log
    out = tmp_path / "results"
    _mine(out / "notes.png")
    (out / "metrics.json").write_text('{"mine": true}')
    (out / "metrics.md").write_text("| my table |")
    mine = snapshot(out)
    result = invoke("evaluate", "--run-dir", tiny_run, "--metrics", "recon", "--data-limit", "32",
                    "--out", out)
    assert one_line_error(result.output) == (
        f"Error: --out {out}: refusing to replace {out}/metrics.json, which augintae-tf did not "
        f"write (not listed in {out}/.generated.json); choose another folder or move it")
    (out / "metrics.json").unlink()
    mine = snapshot(out)
    result = invoke("compare", tiny_run, "--out", out, "--no-quality")
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"Error: --out {out}: refusing to replace {out}/metrics.md, which augintae-tf did not "
        f"write (not listed in {out}/.generated.json); choose another folder or move it")
    assert snapshot(out) == mine
    (out / "metrics.md").unlink()
    for _ in range(2):  # a rerun replaces what the first one recorded
        result = invoke("evaluate", "--run-dir", tiny_run, "--metrics", "recon",
                        "--data-limit", "32", "--out", out)
        assert result.exit_code == 0, result.output
    assert json.loads((out / ".generated.json").read_text())["files"] == sorted(
        ["metrics.json", "noise.png", "interpolations.png", "generalization.png"])
    assert snapshot(out)[str(out / "notes.png")] == mine[str(out / "notes.png")]
    for where in ([], ["--out", tiny_run / "eval"]):  # the run's own folder, however spelled
        result = invoke("evaluate", "--run-dir", tiny_run, "--metrics", "recon",
                        "--data-limit", "32", *where)
        assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- hostile or odd configs
LAUGHS = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 6))


@pytest.mark.parametrize("name, data, wanted", [
    ("laughs.yaml", ("l0: &l0 [x]\n" + LAUGHS + "data: {classes: *l5}\n").encode(),
     "is not valid YAML (line 2, column 10): uses the alias *l0; augintae-tf configs do not "
     "expand aliases (write the value out)"),
    ("deep.yaml", b"train: " + b"[" * 10000 + b"]" * 10000 + b"\n",
     "is not valid YAML (line 1, column 27): nests deeper than 20 levels"),
    ("latin1.yaml", "data: {dataset: caf\u00e9}\n".encode("latin-1"),
     "is not UTF-8 text (byte 19: b'\\xe9'); save it as UTF-8"),
    ("seed.yaml", b"train: {seed: 100000000000000000000}\n",
     "train.seed: 100000000000000000000 is out of range; expected an integer in [0, 2147483647]"),
])
def test_a_hostile_config_is_one_line_naming_it(tmp_path, name, data, wanted):
    path = tmp_path / name
    path.write_bytes(data)
    result = invoke("train", "--config", path, "--dry-run")
    assert result.exit_code == 1
    line = one_line_error(result.output)
    assert line.endswith(wanted) and (f"'{path}'" in line or name == "seed.yaml"), line


def test_an_unreadable_or_fifo_config_is_one_line(tmp_path, monkeypatch):
    locked = tmp_path / "locked.yaml"
    locked.write_text("train: {epochs: 1}\n")
    locked.chmod(0)
    real_open = os.open

    def as_a_user(path, flags, *args, **kwargs):  # root reads mode 000 files; a user does not
        if os.fspath(path) == str(locked):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", as_a_user)
    result = invoke("train", "--config", locked, "--dry-run")
    assert one_line_error(result.output) == (
        f"Error: config '{locked}' cannot be read: Permission denied")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # reading it would block forever
    result = invoke("train", "--config", fifo, "--dry-run")
    assert one_line_error(result.output) == f"Error: config '{fifo}' is not a regular file"


def test_a_deep_run_config_is_one_line_for_generate(tiny_seeds, tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    (run / "config.yaml").write_text("train: " + "[" * 10000 + "]" * 10000 + "\n")
    result = invoke("generate", "--run-dir", run, "--seeds", tiny_seeds, "--out",
                    tmp_path / "gen")
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"Error: {run}/config.yaml is not valid YAML (line 1, column 27): nests deeper than 20 "
        "levels")


# ---------------------------------------------------------------- out-of-range integers
@pytest.mark.parametrize("args, wanted", [
    (["train", "--seed", str(2 ** 70)], "Invalid value for '--seed': 1180591620717411303424 is "
                                        "out of range; expected an integer in [0, 2147483647]"),
    (["generate", "--seed", "-1"], "Invalid value for '--seed': -1 is out of range; expected an "
                                   "integer in [0, 2147483647]"),
    (["generate", "--num", "10000000"], "Invalid value for '--num': 10000000 is out of range; "
                                        "expected an integer in [1, 1000000]"),
    (["evaluate", "--num-images", str(10 ** 30)], "Invalid value for '--num-images': "
                                                   "100000000000... (31 digits) is out of range; "
                                                   "expected an integer in [1, 2147483647]"),
    (["train", "--set", "data.shuffle_buffer=100000000000000000000"],
     "data.shuffle_buffer: 100000000000000000000 is out of range; expected an integer in "
     "[1, 2147483647]"),
    (["train", "--set", "data.shuffle_buffer=1e20"], "data.shuffle_buffer: '1e20' is not a "
                                                     "valid int"),
])
def test_integers_are_range_checked_in_one_line(tiny_run, tmp_path, args, wanted):
    """The same check for every integer option and --set field, before anything is written:
    `train --seed 2**70` was an OverflowError traceback after the run directory was made."""
    if args[0] in ("generate", "evaluate"):
        args = [*args, "--run-dir", tiny_run]
    run_dir = tmp_path / "run"
    result = invoke(*args, *(SMALL + ["--run-dir", run_dir] if args[0] == "train" else []))
    assert result.exit_code != 0
    assert one_line_error(result.output) == f"Error: {wanted}"
    assert not run_dir.exists()


def test_a_huge_num_is_refused_at_once_and_memory_stays_bounded(tiny_seeds, tiny_run, tmp_path):
    """`generate --num 10000000` buffered every image (2.5 GB after 27 s); in a fresh process it
    is now refused before TensorFlow loads, with nothing written."""
    out = tmp_path / "gen"
    done = cli("generate", "--run-dir", tiny_run, "--seeds", tiny_seeds,
               "--num", "10000000", "--out", out, timeout=120)
    assert done.returncode == 2
    assert one_line_error(done.stderr) == ("Error: Invalid value for '--num': 10000000 is out of "
                                           "range; expected an integer in [1, 1000000]")
    assert not out.exists()


def test_generate_streams_its_images_in_chunks(tiny_seeds, tiny_run, tmp_path, monkeypatch):
    """Above generation.CHUNK images, each chunk is written before the next is made; the first
    chunk is one call with the seed (the exported generate's images), later chunks draw other
    streams."""
    monkeypatch.setattr(generation, "CHUNK", 16)
    events, real_generate, real_save = [], generation.generate, generation.save_pngs

    def generate(model, seeds, num, seed, **kwargs):
        events.append(("made", num, seed))
        return real_generate(model, seeds, num, seed, **kwargs)

    def save_pngs(paths, images):
        events.append(("wrote", len(paths)))
        return real_save(paths, images)

    monkeypatch.setattr(generation, "generate", generate)
    monkeypatch.setattr(generation, "save_pngs", save_pngs)
    out = tmp_path / "gen"
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", tiny_seeds,
                    "--num", "40", "--seed", "5", "--out", out)
    assert result.exit_code == 0, result.output
    seeds = [generation.chunk_seed(5, i) for i in range(3)]
    assert events == [("made", 16, 5), ("wrote", 16), ("made", 16, seeds[1]), ("wrote", 16),
                      ("made", 8, seeds[2]), ("wrote", 8)]
    assert len(set(seeds) | {generation.chunk_seed(6, 1)}) == 4  # no chunk shared with seed 6
    assert len(list(out.glob("0*.png"))) == 40 and (out / "grid.png").is_file()


# ---------------------------------------------------------------- FIFOs given as seeds
def test_a_fifo_as_seeds_is_refused_or_skipped_never_waited_on(tiny_seeds, tiny_run, tmp_path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", fifo, "--out", tmp_path / "g1")
    assert one_line_error(result.output) == (
        f"Error: seed images {fifo} is not a regular file or a folder (a FIFO, a device...); "
        "give an image file or a folder of them")
    folder = Path(shutil.copytree(tiny_seeds, tmp_path / "seeds"))
    os.mkfifo(folder / "x.png")  # opening it to decode blocked generate forever
    done = cli("generate", "--run-dir", tiny_run, "--seeds", folder, "--num", "2",
               "--out", tmp_path / "g2", timeout=150)
    assert done.returncode == 0, done.stderr
    assert f"skipping unreadable image {folder}/x.png: {folder}/x.png is not a regular file" \
        in done.stderr


# ---------------------------------------------------------------- a read-only run, --out elsewhere
def test_evaluate_of_a_read_only_run_caches_its_classifiers_under_out(tiny_run, tmp_path,
                                                                       read_only):
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    shutil.rmtree(run / "eval", ignore_errors=True)
    before = snapshot(run)
    read_only(run)
    out = tmp_path / "elsewhere"
    result = invoke("evaluate", "--run-dir", run, "--metrics", "classifier", "--out", out,
                    "--num-images", "16", "--classifier-epochs", "1", "--classifier-limit", "64")
    assert result.exit_code == 0, result.output
    assert snapshot(run) == before  # nothing under the read-only run
    assert sorted(p.name for p in (out / "classifiers").iterdir()) == [
        "class.json", "class.weights.h5", "domain.json", "domain.weights.h5"]
    record = json.loads((out / "metrics.json").read_text())  # a 1-epoch classifier may be at
    assert np.isfinite(record.get("class_accuracy_raw", record["class_accuracy"]))  # chance
