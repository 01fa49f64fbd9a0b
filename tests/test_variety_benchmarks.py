"""Issue 38's variety benchmarks: benchmarks/mixed_photos_folder.py (the digits 0-4 plus tiles of
other photographs, a folder dataset whose photographs share no tile with the far domain,
``patches``, it is scored on) and benchmarks/augmented_outputs.py's paired table."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from augintae_tf.config import load_config
from augintae_tf.data import digits, label_names, load_arrays

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "mixed_photos_folder.py"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed") / "digits-photos"
    proc = subprocess.run([sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_the_digits_are_the_train_split_unchanged(folder):
    out, _ = folder
    images, labels = digits.split_arrays("train")
    for d in digits.BACKGROUND:
        files = sorted((out / f"digit-{d}").glob("*.png"))
        members = images[labels == d][..., 0]
        assert len(files) == len(members)
        assert np.array_equal(np.stack([_pixels(f) for f in files]), members)


def test_no_photo_tile_is_an_image_of_the_far_domain(folder):
    """The far classes stay novel: not one tile of the folder equals an image of ``patches``."""
    out, _ = folder
    far, _ = load_arrays(load_config("digits").data, "test", dataset="patches")
    far = {np.round(image[..., 0] * 255).astype(np.uint8).tobytes() for image in far}
    photo_classes = [d for d in sorted(out.iterdir()) if not d.name.startswith("digit-")]
    assert len(photo_classes) == 12 and "horse" not in {d.name for d in photo_classes}
    tiles = [_pixels(f) for d in photo_classes for f in d.glob("*.png")]
    assert all(t.shape == (28, 28) and t.std() > 0 for t in tiles)
    assert not any(t.tobytes() in far for t in tiles)
    # none of the patches' source photographs is a class here
    assert not {d.name for d in photo_classes} & set(label_names("patches", "test"))


def test_prints_the_class_table_and_refuses_an_existing_folder(folder):
    out, stdout = folder
    total = sum(len(list(d.glob("*.png"))) for d in out.iterdir())
    assert f"| total | {total} |" in stdout
    assert Path(f"{out}.json").is_file()
    before = sorted(p.name for p in out.parent.iterdir())
    proc = subprocess.run([sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1 and proc.stderr.strip() == f"{out} exists: pass a new folder"
    assert sorted(p.name for p in out.parent.iterdir()) == before


def test_augmented_outputs_table_pairs_runs_against_the_seeds_and_the_augmented_copies():
    """benchmarks/augmented_outputs.py's table: the paired gains are means of run-by-run
    differences (not differences of means' spreads), with 2 standard errors of them."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from augmented_outputs import paired_rows

    rows = {"seeds": {"runs": [0.5, 0.6, 0.7]}, "model": {"runs": [0.6, 0.6, 0.9]},
            "seed_augmented": {"runs": [0.5, 0.7, 0.9]}, "real": {"runs": [0.9, 1.0, 1.1]}}
    table = paired_rows(rows)
    # model - seeds = (0.1, 0, 0.2): mean 0.1, sd 0.1, 2 SE = 0.2 / sqrt(3) = 0.115;
    # model - copies = (0.1, -0.1, 0): mean 0, sd 0.1; share = (0.7 - 0.6) / (1.0 - 0.6) = 0.25
    assert "| model | 0.700 +- 0.141 | 0.25 | +0.100 +- 0.115 | +0.000 +- 0.115 |" in table
    assert table[0].startswith("| training set | accuracy | share |") and len(table) == 6
