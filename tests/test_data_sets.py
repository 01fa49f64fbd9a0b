"""The labelled set/pair sampler of the data layer (augintae_tf/data/sets.py)."""
import numpy as np
import pytest
from PIL import Image

from augintae_tf.config import DataConfig
from augintae_tf.data import DataError, make_set_dataset
from augintae_tf.data.sets import LABELLED_SOURCES, check_labelled


def _folder(root, sizes: dict[str, int]):
    """Class subfolders of 8x8 gray PNGs; image k overall has the constant value 10 * (k + 1)."""
    k = 0
    for name, count in sizes.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            k += 1
            Image.fromarray(np.full((8, 8), 10 * k, np.uint8)).save(root / name / f"{i}.png")
    return root


def _cfg(root):
    return DataConfig(dataset=str(root), image_size=8, channels=1, shuffle_buffer=100)


def test_sets_hold_distinct_images_of_one_class_and_small_classes_are_skipped(tmp_path):
    root = _folder(tmp_path / "data", {"a": 5, "b": 3, "c": 1})  # values 10..50, 60..80, 90
    ds, summary = make_set_dataset(_cfg(root), "train", 3, 2, model_name="dagan", seed=1)
    assert (summary.classes, summary.skipped, summary.images) == (2, 1, 8)
    assert summary.line() == ("sets of 3 same-class images from 2 classes (8 images); 1 classes "
                              "with fewer than 3 images skipped")
    seen = set()
    for images, labels in ds.take(20).as_numpy_iterator():
        assert images.shape == (2, 3, 8, 8, 1) and labels.shape == (2,)
        values = np.round(images[..., 0, 0, 0] * 255).astype(int)  # [sets, members]
        for members, label in zip(values, labels):
            assert len(set(members)) == 3  # distinct images
            expected = {0: range(10, 51, 10), 1: range(60, 81, 10)}[int(label)]
            assert set(members) <= set(expected)  # all of the set's class, never class c
            seen |= set(members)
    assert seen == set(range(10, 81, 10))  # every image of the used classes gets drawn


def test_unlabelled_folder_is_a_one_line_error_naming_the_model(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(root / f"{i}.png")
    with pytest.raises(DataError) as info:
        make_set_dataset(_cfg(root), "train", 2, 2, model_name="neural-statistician")
    assert str(info.value) == (
        f"model 'neural-statistician' trains on class-labelled sets, but '{root}' has no class "
        f"labels (a folder without class subfolders); sources with labels: {LABELLED_SOURCES}")


def test_no_class_large_enough_is_an_error_not_an_endless_resample(tmp_path):
    root = _folder(tmp_path / "data", {"a": 2, "b": 1})
    with pytest.raises(DataError, match=r"^model 'neural-statistician' needs sets of 5 same-class "
                                        r"images, but no class of .* has that many \(largest: 2\)"):
        make_set_dataset(_cfg(root), "train", 5, 1, model_name="neural-statistician")


def test_glyph_classes_are_counted_per_character():
    counts = check_labelled(DataConfig(limit=560), "train", "dagan")  # instance-major: 2 each
    assert len(counts) == 280 and set(counts.values()) == {2}
