"""The CLI around inputs and outputs: --out folders and files never silently overwritten,
seeds that would pick up a grid, huge images, option conflicts, option errors before
TensorFlow, YAML positions and absl noise. (Run-directory faults: test_checkpoint_faults.py.)"""
import numpy as np
import pytest
from PIL import Image

from conftest import run_python, tiny_config
from test_checkpoint_faults import cli, invoke, one_line_error


# ---------------------------------------------------------------- 6. outputs that were overwritten
@pytest.fixture
def seeds(tmp_path):
    from augintae_tf.data import load_arrays
    from augintae_tf.images import to_uint8

    images, labels = load_arrays(tiny_config().data, "test", limit=200)
    folder = tmp_path / "seeds"
    folder.mkdir()
    for i, j in enumerate(np.flatnonzero(labels == labels[0])[:3]):
        Image.fromarray(to_uint8(images[j])[..., 0]).save(folder / f"s{i}.png")
    return folder


def test_generate_refuses_a_non_empty_out_unless_overwrite(tiny_run, seeds, tmp_path):
    out = tmp_path / "gen"
    assert invoke("generate", "--run-dir", tiny_run, "--seeds", seeds, "--num", "12",
                  "--out", out).exit_code == 0
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", seeds, "--out", out)
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: --out {out} is not empty; choose an empty folder or "
                                     "pass --overwrite")
    (out / "notes.txt").write_text("mine")
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", seeds, "--num", "4", "--out", out,
                    "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [  # the manifest: what --overwrite removes
        ".generated.json", "00000.png", "00001.png", "00002.png", "00003.png", "grid.png",
        "notes.txt"]


def test_generate_without_seeds_is_a_usage_error_for_a_model_that_needs_them(tiny_run, tmp_path):
    result = invoke("generate", "--run-dir", tiny_run, "--out", tmp_path / "gen")
    assert result.exit_code == 2  # as click's own usage errors: the usage line, then the error
    assert result.output.startswith("Usage: ")
    assert result.output.strip().endswith("Error: --seeds is required: model augintae generates "
                                          "from seed images")
    assert not (tmp_path / "gen").exists()


def test_seeds_from_a_generation_folder_skip_its_grid(tiny_run, seeds, tmp_path):
    out = tmp_path / "gen"
    invoke("generate", "--run-dir", tiny_run, "--seeds", seeds, "--num", "4", "--out", out)
    result = invoke("generate", "--run-dir", tiny_run, "--seeds", out, "--num", "2",
                    "--out", tmp_path / "again")
    assert result.exit_code == 0, result.output
    assert (f"warning: not using {out}/grid.png as a seed (the grid `augintae-tf generate` "
            "writes)") in result.output.splitlines()
    assert "from 4 seeds" in result.output


def test_interpolate_out_is_checked_and_a_bad_endpoint_is_named(tiny_run, seeds, tmp_path):
    a, b = seeds / "s0.png", seeds / "s1.png"
    result = invoke("interpolate", "--run-dir", tiny_run, "--a", a, "--b", b, "--out",
                    tmp_path / "i.tif")
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: --out {tmp_path}/i.tif: cannot write a .tif file; use "
                                     "one of .png, .jpg, .jpeg, .webp, .bmp")
    out = tmp_path / "i.jpg"
    assert invoke("interpolate", "--run-dir", tiny_run, "--a", a, "--b", b, "--out", out,
                  "--steps", "3").exit_code == 0
    with Image.open(out) as picture:
        assert picture.format == "JPEG"
    result = invoke("interpolate", "--run-dir", tiny_run, "--a", a, "--b", b, "--out", out)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: --out {out} already exists; pass --overwrite to replace it"
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    result = invoke("interpolate", "--run-dir", tiny_run, "--a", broken, "--b", b, "--out",
                    tmp_path / "j.png")
    assert result.exit_code == 1
    assert f"warning: skipping unreadable image {broken}: " in result.output
    assert one_line_error(result.output).startswith(f"Error: --a {broken}: ")


# ---------------------------------------------------------------- 7. huge images
def test_huge_images_are_reduced_and_limited(tmp_path, monkeypatch):
    from augintae_tf.data.convert import finish
    from augintae_tf.data.folder import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, decode
    from augintae_tf.data import load_image_files

    y, x = np.mgrid[0:2000, 0:3000]
    path = tmp_path / "big.png"
    Image.fromarray(((x + y) * 255 // 5000).astype(np.uint8)).save(path)
    reduced = decode(path, 28)
    assert reduced.shape == (118, 177, 1)  # box-reduced by 17 (ceil), >= 4 x 28 on the short side
    full = decode(path)
    assert full.shape == (2000, 3000, 1)
    diff = np.abs(finish(reduced, 28, 1).numpy().astype(int) - finish(full, 28, 1).numpy())
    assert diff.max() <= 2  # uint8 levels
    monkeypatch.setenv(MAX_PIXELS_ENV, "1000000")
    with pytest.warns(UserWarning, match=f"skipping unreadable image {path}: 3000x2000 is 6,000,000 "
                                         f"pixels, above the limit of 1,000,000 \\(set {MAX_PIXELS_ENV}"):
        with pytest.raises(Exception, match="contains no readable image"):
            load_image_files([path], 28, 1)
    assert DEFAULT_MAX_PIXELS >= 100_000_000  # the 10000 x 10000 file still loads


# ---------------------------------------------------------------- 9. smaller ones
def test_option_errors_come_before_tensorflow():
    done = run_python("import sys\nfrom click.testing import CliRunner\n"
                      "from augintae_tf.cli.main import main\n"
                      "r = CliRunner().invoke(main, ['train', '--set', 'train.epochs=0'])\n"
                      "print(r.exit_code, r.output.strip())\nprint('tensorflow' in sys.modules)")
    assert done.stdout.splitlines() == [
        "1 Error: train.epochs: 0 is not allowed; expected an integer >= 1", "False"], done.stderr



def test_help_never_imports_tensorflow():
    """`augintae-tf --help` and every command's --help answer without TensorFlow (seconds)."""
    done = run_python("import sys\nfrom click.testing import CliRunner\n"
                      "from augintae_tf.cli.main import main\n"
                      "codes = [CliRunner().invoke(main, args).exit_code for args in\n"
                      "         [['--help']] + [[name, '--help'] for name in sorted(main.commands)]]\n"
                      "print(set(codes), len(codes), 'tensorflow' in sys.modules)")
    assert done.stdout.split(maxsplit=1)[0] == "{0}" and done.stdout.strip().endswith(" False"), (
        done.stdout + done.stderr)


@pytest.mark.parametrize("args, key", [
    (["--epochs", "1", "--set", "train.epochs=5"], "train.epochs"),
    (["--batch-size", "8", "--set", "train.batch_size=16"], "train.batch_size"),
    (["--model", "ae", "--set", "model.name=intae"], "model.name"),
    (["--image-size", "32", "--set", "data.image_size=28"], "data.image_size"),
])
def test_a_named_option_and_set_of_the_same_field_conflict(args, key):
    result = invoke("train", "--dry-run", *args)
    assert result.exit_code == 1
    named, value = args[0], args[1]
    assert result.output.strip() == (f"Error: {named} {value} and --set {args[3]} both set {key}; "
                                     "give it once")


def test_yaml_errors_keep_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epochs: [1\n  lr: 2\n")
    result = invoke("train", "--config", path, "--dry-run")
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: config '{path}' is not valid YAML (line 3, column 5): "
                                     "expected ',' or ']', but got ':'")


def test_datasets_prints_no_absl_warnings(tmp_path):
    (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)  # an empty version folder: TFDS warns
    done = cli("datasets", "--data-dir", tmp_path)
    assert done.returncode == 0 and "mnist" in done.stdout
    assert "WARNING:absl" not in done.stderr, done.stderr
