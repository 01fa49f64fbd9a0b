"""TFDS sources under ``tfds.testing.mock_data`` (offline random examples from the feature specs).

Each dataset-specific fix (Omniglot inversion, EMNIST transpose, CelebA crop) is checked on pixel
values against the raw mock example, transformed by hand.
"""
import time
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from augintae_tf.config import DataConfig
from augintae_tf.data import (DataError, dataset_splits, is_available_offline, label_names,
                              load_split, make_dataset)

LUMA = np.array([0.2989, 0.5870, 0.1140], np.float32)  # tf.image.rgb_to_grayscale's weights
STEP = 1 / 255 + 1e-6  # sources store uint8: one quantisation step of tolerance


@pytest.fixture
def mocked():
    """Mock TFDS; mock_data does not make ``is_prepared`` true, so patch it too."""
    with tfds.testing.mock_data(num_examples=3), \
            mock.patch.object(tfds.core.DatasetBuilder, "is_prepared", return_value=True):
        yield


def raw_examples(name: str, split: str) -> list[dict]:
    """The mock examples as TFDS serves them (the mock generator repeats the same ones)."""
    return list(tfds.builder(name).as_dataset(split=split, shuffle_files=False).as_numpy_iterator())


def loaded(name, split, size, channels, **kwargs):
    return list(load_split(name, split, size, channels, **kwargs).as_numpy_iterator())


def test_omniglot_is_gray_inverted_and_resized(mocked):
    raw = raw_examples("omniglot", "train")
    native = loaded("omniglot", "train", 105, 1)  # no resize: exact inversion check
    resized = loaded("omniglot", "train", 28, 1)
    assert len(native) == len(raw) == 3
    for example, (full, full_label), (small, small_label) in zip(raw, native, resized):
        assert example["image"].shape == (105, 105, 3)
        inverted = 1.0 - (example["image"].astype(np.float32) / 255.0) @ LUMA
        np.testing.assert_allclose(full[..., 0], inverted, atol=STEP)
        expected = tf.image.resize(inverted[..., None], [28, 28], antialias=True).numpy()
        assert small.shape == (28, 28, 1) and small.dtype == np.float32
        np.testing.assert_allclose(small, expected, atol=STEP)
        assert full_label == small_label == example["label"]


def test_emnist_letters_are_transposed(mocked):
    raw = raw_examples("emnist/letters", "test")
    for example, (image, label) in zip(raw, loaded("emnist/letters", "test", 28, 1)):
        upright = example["image"][..., 0].T.astype(np.float32) / 255.0
        np.testing.assert_allclose(image[..., 0], upright, atol=1e-6)
        assert not np.allclose(image[..., 0], example["image"][..., 0] / 255.0)
        assert label == example["label"]


def test_celeb_a_central_square_crop_then_resize(mocked):
    raw = raw_examples("celeb_a", "validation")
    native = loaded("celeb_a", "validation", 178, 3)
    resized = loaded("celeb_a", "validation", 128, 3)
    for example, (crop, label), (small, _) in zip(raw, native, resized):
        assert example["image"].shape == (218, 178, 3)
        central = example["image"][20:198].astype(np.float32) / 255.0
        np.testing.assert_allclose(crop, central, atol=1e-6)
        expected = tf.image.resize(central, [128, 128], antialias=True).numpy()
        assert small.shape == (128, 128, 3)
        np.testing.assert_allclose(small, expected, atol=STEP)
        assert label == example["identity"]["Identity_No"]


def test_channel_conversion_both_ways(mocked):
    gray = raw_examples("mnist", "train")
    for example, (image, _) in zip(gray, loaded("mnist", "train", 28, 3)):
        assert image.shape == (28, 28, 3)
        for c in range(3):
            np.testing.assert_allclose(image[..., c], example["image"][..., 0] / 255.0, atol=1e-6)
    color = raw_examples("cifar10", "test")
    for example, (image, _) in zip(color, loaded("cifar10", "test", 32, 1)):
        luma = (example["image"].astype(np.float32) / 255.0) @ LUMA
        np.testing.assert_allclose(image[..., 0], luma, atol=STEP)


@pytest.mark.parametrize("name,split", [("mnist", "test"), ("fashion_mnist", "train"),
                                        ("kmnist", "train"), ("cifar100", "train"),
                                        ("stl10", "unlabelled"), ("omniglot", "small2")])
def test_every_dataset_yields_images_in_range(mocked, name, split):
    (image, label), *_ = loaded(name, split, 16, 1)
    assert image.shape == (16, 16, 1) and image.dtype == np.float32
    assert 0.0 <= image.min() <= image.max() <= 1.0 and image.max() > image.min()
    assert label.dtype == np.int32 and label.shape == ()


def test_limit_and_batches(mocked):
    assert len(loaded("mnist", "train", 28, 1, limit=2)) == 2
    cfg = DataConfig(dataset="mnist", shuffle_buffer=8)
    images, labels = next(iter(make_dataset(cfg, "train", 2)))
    assert images.shape == (2, 28, 28, 1) and labels.shape == (2,) and labels.dtype == tf.int32


def test_unknown_split_names_the_valid_ones(mocked):
    with pytest.raises(DataError, match="train, test, small1, small2"):
        load_split("omniglot", "validation", 28, 1)
    load_split("mnist", "train[:2]", 28, 1)  # TFDS slicing syntax is accepted
    assert dataset_splits("celeb_a") == ("train", "validation", "test")


def test_label_names_from_metadata(mocked):
    assert label_names("fashion_mnist", "train")[:2] == ["T-shirt/top", "Trouser"]
    assert len(label_names("mnist", "test")) == 10
    assert label_names("celeb_a", "train") is None


def test_not_prepared_fails_fast_with_instructions(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        load_split("mnist", "train", 28, 1, data_dir=str(tmp_path))
    assert time.perf_counter() - start < 10
    message = str(info.value)
    assert "'mnist'" in message and str(tmp_path) in message and "tfds build mnist" in message
    assert "\n" not in message
    start = time.perf_counter()
    assert is_available_offline("emnist/letters", str(tmp_path)) is False
    assert time.perf_counter() - start < 10


def test_tfds_data_dir_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "from-env"))
    with pytest.raises(DataError, match="from-env"):
        load_split("cifar10", "train", 32, 3)


def test_glyphs_and_folders_are_always_offline(tmp_path):
    assert is_available_offline("glyphs")
    assert is_available_offline(str(tmp_path))
    with pytest.raises(DataError, match="neither a registered dataset"):
        is_available_offline("no-such-dataset")
