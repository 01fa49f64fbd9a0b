"""The click commands end to end (in-process), including their one-line errors."""
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from augintae_tf.cli.main import main
from augintae_tf.evaluation.table import METRIC_TABLE
from augintae_tf.images import LABEL_WIDTH


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def test_help_lists_every_command():
    result = invoke("--help")
    assert result.exit_code == 0
    commands = result.output.split("Commands:")[1].split()
    for name in ("datasets", "augment-preview", "train", "generate", "interpolate", "export-seeds",
                 "evaluate", "compare", "export", "reconstruct"):
        assert name in commands, name


def test_train_help_and_model_choices_come_from_the_registry():
    from augintae_tf.config.model_table import model_names

    result = invoke("train", "--help")
    assert result.exit_code == 0
    assert "--model [" + "|".join(model_names()) + "]" in result.output
    refused = invoke("train", "--model", "no-such-model", "--dry-run")
    assert refused.exit_code == 2
    assert "'no-such-model' is not one of " + ", ".join(map(repr, model_names())) in refused.output


def test_datasets_lists_glyphs_as_offline():
    result = invoke("datasets")
    assert result.exit_code == 0
    glyphs = next(line for line in result.output.splitlines() if line.startswith("glyphs"))
    assert "28x28" in glyphs and glyphs.split()[-1] == "yes"
    assert "train,validation,test,far" in glyphs.split()
    assert any(line.startswith("omniglot") for line in result.output.splitlines())


def test_augment_preview_on_glyphs_and_on_a_folder_with_a_corrupt_file(tmp_path):
    out = tmp_path / "p.png"
    result = invoke("augment-preview", "--dataset", "glyphs", "--num", "3", "--copies", "4",
                    "--out", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size[0] > Image.open(out).size[1] > 0  # 3 rows of 5 images
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8)).save(folder / "rgb.png")
    Image.fromarray(rng.integers(0, 255, (50, 20), np.uint8)).save(folder / "gray.png")
    Image.fromarray(rng.integers(0, 255, (32, 32, 4), np.uint8)).save(folder / "rgba.png")
    (folder / "broken.png").write_bytes(b"not a png")
    result = invoke("augment-preview", "--dataset", folder, "--image-size", "28",
                    "--channels", "1", "--out", tmp_path / "q.png")
    assert result.exit_code == 0, result.output
    assert result.output.count(f"warning: skipping unreadable image {folder}/broken.png: ") == 1
    assert "3 originals" in result.output


def test_bad_options_fail_with_one_line(tmp_path):
    result = invoke("train", "--epochs", "0", "--dry-run")
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: train.epochs: 0 is not allowed; "
                                     "expected an integer >= 1")
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("augment-preview", "--dataset", empty, "--out", tmp_path / "x.png")
    assert result.exit_code == 1 and "no readable image" in result.output
    # A wrong run directory is named even when --out is not empty (checked first).
    out = tmp_path / "full"
    out.mkdir()
    (out / "00000.png").write_bytes(b"")
    image = out / "00000.png"
    for command in (["generate", "--seeds", tmp_path, "--out", out],
                    ["reconstruct", "--images", tmp_path, "--out", out],
                    ["interpolate", "--a", image, "--b", image, "--out", image]):
        result = invoke(command[0], "--run-dir", tmp_path, *command[1:])
        assert result.exit_code == 1, result.output
        assert result.output.startswith(f"Error: {tmp_path} is not a run directory"), result.output
        assert "runs/quickstart" in result.output  # the README's name in the hint


def test_every_option_has_help_and_no_command_summary_is_cut():
    import click

    for command in [main, *main.commands.values()]:
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help and param.help.strip(), f"{command.name} {param.opts[0]}"
    listing = invoke("--help").output.split("Commands:")[1]
    assert "..." not in listing and "…" not in listing, listing
    for name, command in main.commands.items():
        summary = command.get_short_help_str()
        assert summary and not summary.endswith("..."), (name, summary)
    generate = invoke("generate", "--help").output
    assert "single image" not in generate
    assert ("one or more for local, local-edit, within, within-edit, flow and the aug-path samplers"
            in re.sub(r"(\w)- (\w)", r"\1-\2", " ".join(generate.split())))  # wrapped at hyphens
    evaluate = invoke("evaluate", "--help").output
    metrics = evaluate.split("Metrics (--metrics")[1]
    assert all(re.search(rf"^ +{re.escape(name)}  ", metrics, re.M) for name in METRIC_TABLE)


def test_train_dry_run_prints_config_data_and_parameters():
    result = invoke("train", "--model", "intae", "--dry-run", "--set", "data.limit=256")
    assert result.exit_code == 0, result.output
    assert "name: intae" in result.output and "train: glyphs [train] 256 images" in result.output
    # the default (recommended) preset's latent 128: the paper's 6,592,096 + 1024 x 96 + 96
    assert "encoder: 6,690,496 parameters" in result.output


def test_train_on_a_folder_of_pngs(tmp_path):
    folder = tmp_path / "pngs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (28, 28), np.uint8)).save(folder / f"{i}.png")
    run_dir = tmp_path / "run"
    result = invoke("train", "--dataset", folder, "--epochs", "1", "--image-size", "28",
                    "--channels", "1", "--batch-size", "16", "--set", "model.width=0.25",
                    "--run-dir", run_dir)
    assert result.exit_code == 0, result.output
    record = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    assert record["epoch"] == 1 and record["step"] == 40 // 16


def test_export_seeds_generate_and_interpolate(tiny_run, tmp_path):
    seeds = tmp_path / "seeds"
    result = invoke("export-seeds", "--dataset", "glyphs", "--num", "5", "--out", f"{seeds}/")
    assert result.exit_code == 0, result.output
    assert len(list(seeds.glob("*.png"))) == 5
    assert result.output.rstrip().endswith(f"to {seeds}/")  # one slash, as typed
    label, name = re.search(r"of class (\d+) \((.+?)\)", result.output).groups()
    by_name = invoke("export-seeds", "--dataset", "glyphs", "--num", "5", "--label", name,
                     "--out", tmp_path / "by-name")
    assert f"of class {label} ({name})" in by_name.output, by_name.output
    assert [p.read_bytes() for p in sorted((tmp_path / "by-name").glob("*.png"))] == \
        [p.read_bytes() for p in sorted(seeds.glob("*.png"))]
    unknown = invoke("export-seeds", "--dataset", "glyphs", "--label", "no/such-class",
                     "--out", tmp_path / "none")
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Error: --label no/such-class: glyphs has no class of that name")
    out = tmp_path / "gen"
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", seeds, "--num", "12",
                    "--out", out)
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("0*.png"))) == 12 and (out / "grid.png").exists()
    one = tmp_path / "one"
    one.mkdir()
    (one / "s.png").write_bytes((seeds / "seed-00.png").read_bytes())
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", one, "--out", tmp_path / "gen1")
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: --seeds {one} holds 1 image; the run's sampler slerp needs at least 2 of one "
        "class (--sampler local, local-edit, within, within-edit, aug-path, aug-path-within, "
        "aug-path-edit or flow generates from one)"
    ]  # before the domain line
    assert not (tmp_path / "gen1").exists()  # OUT as it was found: the retry works
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", one, "--out", tmp_path / "gen1",
                    "--sampler", "local-edit", "--num", "6")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert any(line.startswith(f"wrote 6 images from 1 seed to {tmp_path / 'gen1'}/ (grid: ")
               for line in lines), lines
    assert any(line.startswith("warning: novelty: median distance to the nearest seed")
               for line in lines), lines  # a one-seed request gets its novelty line too
    assert sorted(p.name for p in (tmp_path / "gen1").iterdir()) == [
        ".generated.json", *(f"{i:05d}.png" for i in range(6)), "grid.png"]
    result = invoke("interpolate", "--run-dir", tiny_run, "--a", seeds / "seed-00.png",
                    "--b", seeds / "seed-01.png", "--steps", "5", "--out", tmp_path / "i.png",
                    "--gif", tmp_path / "i.gif")
    assert result.exit_code == 0, result.output
    row = np.asarray(Image.open(tmp_path / "i.png").convert("L"))
    assert row.shape == ((2 + 2 * 30) * 3, LABEL_WIDTH + (2 + 5 * 30) * 3)  # 2 rows of 5, x3
    assert row[:, :LABEL_WIDTH].min() == 0 and row[:, :LABEL_WIDTH].mean() > 200  # labels
    gif = Image.open(tmp_path / "i.gif")
    assert gif.size == (84, 84) and gif.info["loop"] == 0 and gif.n_frames > 1
    durations = []
    for frame in range(gif.n_frames):  # Pillow merges identical neighbours into a longer frame
        gif.seek(frame)
        durations.append(gif.info["duration"])
    assert sum(durations) == 32 * 80
    back = invoke("interpolate", "--run-dir", tiny_run, "--a", seeds / "seed-00.png",
                  "--b", seeds / "seed-01.png", "--gif", tmp_path / "i.gif")
    assert back.exit_code == 1 and "--gif" in back.output and "--overwrite" in back.output
