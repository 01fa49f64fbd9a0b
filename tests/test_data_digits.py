"""``digits``: scikit-learn's bundled UCI handwritten digits, served at 28x28 with a few-shot split."""
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from sklearn.datasets import load_digits

from augintae_tf.cli.main import main
from augintae_tf.config import load_config
from augintae_tf.data import digits, is_available_offline, label_names, load_arrays


@pytest.fixture(scope="module")
def raw():
    return load_digits()


def test_splits_are_the_background_and_novel_digits_without_overlap(raw):
    cfg = load_config("digits").data
    arrays = {s: load_arrays(cfg, s) for s in ("train", "validation", "test")}
    assert {s: sorted(np.unique(y)) for s, (_, y) in arrays.items()} == {
        "train": [0, 1, 2, 3, 4], "validation": [0, 1, 2, 3, 4], "test": [5, 6, 7, 8, 9]}
    assert sum(len(y) for _, y in arrays.values()) == len(raw.target) == 1797
    counts = {s: np.bincount(y, minlength=10) for s, (_, y) in arrays.items()}
    whole = np.bincount(raw.target)
    np.testing.assert_array_equal(counts["test"][5:], whole[5:])
    np.testing.assert_array_equal(counts["train"][:5] + counts["validation"][:5], whole[:5])
    np.testing.assert_array_equal(counts["validation"][:5], np.ceil(0.15 * whole[:5]))
    index = {s: set(digits.split_indices(raw.target, s)) for s in digits.SPLITS}
    assert not index["train"] & index["validation"] and not index["train"] & index["test"]
    images, _ = arrays["train"]
    assert images.shape[1:] == (28, 28, 1) and images.dtype == np.float32
    assert label_names("digits", "test") == [str(d) for d in range(10)]


def test_each_image_is_its_8x8_ink_counts_resized_into_a_20px_box(raw):
    cfg = load_config("digits").data
    images, labels = load_arrays(cfg, "test")
    first = digits.split_indices(raw.target, "test")[0]
    box = Image.fromarray(raw.images[first].astype(np.float32) / 16, "F").resize((20, 20),
                                                                             Image.BICUBIC)
    expected = np.zeros((28, 28), np.float32)
    expected[4:24, 4:24] = np.round(np.clip(np.asarray(box), 0, 1) * 255) / 255
    np.testing.assert_allclose(images[0, :, :, 0], expected, atol=1e-6)
    assert labels[0] == raw.target[first]
    assert images[:, :4].max() == 0 and images[:, :, 24:].max() == 0  # the margin is empty
    again, _ = load_arrays(cfg, "test")
    np.testing.assert_array_equal(images, again)


def test_listed_as_offline_with_its_splits_and_refused_splits_name_them(tmp_path):
    assert is_available_offline("digits")
    result = CliRunner().invoke(main, ["datasets"])
    line = next(line for line in result.output.splitlines() if line.startswith("digits"))
    assert "28x28" in line and "train,validation,test" in line.split() and line.split()[-1] == "yes"
    result = CliRunner().invoke(main, ["export-seeds", "--dataset", "digits", "--split", "far",
                                       "--num", "2", "--out", str(tmp_path / "seeds")])
    assert result.exit_code != 0
    assert "dataset 'digits' has no split 'far'; splits: train, validation, test" in result.output
    assert not (tmp_path / "seeds").exists()


def test_missing_scikit_learn_is_one_line_naming_the_extra(monkeypatch):
    digits._all.cache_clear()
    monkeypatch.setattr(digits, "available", lambda: False)
    try:
        with pytest.raises(digits.DataError, match=r"pip install 'augintae-tf\[digits\]'"):
            digits.split_arrays("train")
    finally:
        digits._all.cache_clear()
