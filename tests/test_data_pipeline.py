"""make_dataset / load_arrays / load_split on the embedded glyphs: batching, shuffling, limits."""
import os

import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.config import DataConfig
from augintae_tf.data import (DataError, dataset_splits, list_datasets, load_arrays, load_split,
                              make_dataset, resolve_novel)
from augintae_tf.data import glyphs


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory):
    """A temporary glyph cache (the session's one if already set, so glyphs render once)."""
    path = os.environ.get("AUGINTAE_CACHE_DIR") or str(tmp_path_factory.mktemp("glyph-cache"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUGINTAE_CACHE_DIR", path)
        yield path


def labels_of(ds: tf.data.Dataset) -> np.ndarray:
    return np.concatenate([labels for _, labels in ds.as_numpy_iterator()])


def test_batches_have_shapes_dtypes_and_range():
    cfg = DataConfig(limit=100, shuffle_buffer=100)
    images, labels = next(iter(make_dataset(cfg, "train", 32)))
    assert images.shape == (32, 28, 28, 1) and images.dtype == tf.float32
    assert labels.shape == (32,) and labels.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(images)) < float(tf.reduce_max(images)) <= 1.0


def test_other_sizes_and_channels_are_resized_and_tiled():
    cfg = DataConfig(image_size=32, channels=3, limit=8)
    images, _ = load_arrays(cfg, "test")
    assert images.shape == (8, 32, 32, 3) and images.dtype == np.float32
    np.testing.assert_array_equal(images[..., 0], images[..., 2])
    native, _ = load_arrays(DataConfig(limit=8), "test")
    # the mean intensity survives the 28 -> 32 resize (no inversion, no rescaling)
    np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), native.mean(axis=(1, 2, 3)), atol=0.02)


def test_load_arrays_matches_the_cached_arrays_and_load_split():
    images, labels = load_arrays(DataConfig(), "validation")
    raw = glyphs.load()
    np.testing.assert_array_equal(images[..., 0], raw["validation_images"] / np.float32(255))
    np.testing.assert_array_equal(labels, raw["validation_labels"])
    first = next(load_split("glyphs", "validation", 28, 1).as_numpy_iterator())
    np.testing.assert_array_equal(first[0], images[0])


def test_shuffling_is_seeded_and_reshuffles_every_pass():
    cfg = DataConfig(limit=200)
    ds = make_dataset(cfg, "train", 50, seed=1)
    first, second = labels_of(ds), labels_of(ds)
    np.testing.assert_array_equal(first, labels_of(make_dataset(cfg, "train", 50, seed=1)))
    assert not np.array_equal(first, second)  # a new order each pass...
    assert sorted(first) == sorted(second)  # ...of the same examples
    assert not np.array_equal(first, labels_of(make_dataset(cfg, "train", 50, seed=2)))
    in_order = labels_of(make_dataset(cfg, "train", 50, shuffle=False))
    np.testing.assert_array_equal(in_order, load_arrays(cfg, "train")[1])
    assert not np.array_equal(first, in_order)


def test_drop_remainder_limit_and_repeat():
    cfg = DataConfig(limit=50, cache=False)
    sizes = [len(y) for _, y in make_dataset(cfg, "train", 16).as_numpy_iterator()]
    assert sizes == [16, 16, 16]
    sizes = [len(y) for _, y in make_dataset(cfg, "train", 16, drop_remainder=False)]
    assert sizes == [16, 16, 16, 2]
    assert len(list(make_dataset(cfg, "train", 16, repeat=True).take(7))) == 7
    assert load_arrays(cfg, "train")[0].shape[0] == 50
    assert load_arrays(cfg, "train", limit=5)[0].shape[0] == 5


def test_limit_prefix_spans_many_classes():
    _, labels = load_arrays(DataConfig(), "test", limit=100)
    assert len(np.unique(labels)) == 100  # instance-major order: one of each class first


def test_a_batch_larger_than_the_split_is_an_error():
    with pytest.raises(DataError, match="fewer than one batch of 64"):
        make_dataset(DataConfig(limit=10), "train", 64)


def test_novel_dataset_and_split():
    cfg = DataConfig(dataset="mnist", novel_dataset="emnist/letters", novel_split="test")
    assert resolve_novel(cfg) == ("emnist/letters", "test")
    assert resolve_novel(DataConfig()) == ("glyphs", "test")
    images, labels = load_arrays(DataConfig(limit=4), "test", dataset="glyphs")
    assert images.shape == (4, 28, 28, 1) and labels.min() >= len(glyphs._select()[0])


def test_registry_lists_every_source_and_split():
    infos = {info.name: info for info in list_datasets()}
    expected = {"glyphs", "digits", "omniglot", "mnist", "emnist/letters", "fashion_mnist",
                "kmnist", "cifar10", "cifar100", "celeb_a", "stl10", "patches"}
    assert set(infos) == expected
    assert infos["glyphs"].source == "embedded" and infos["mnist"].source == "tfds"
    assert infos["digits"].source == "package" == infos["patches"].source
    assert (infos["celeb_a"].image_size, infos["celeb_a"].channels) == (128, 3)
    assert all(info.description and info.splits for info in infos.values())
    assert dataset_splits("glyphs") == ("train", "validation", "test", "far") == glyphs.SPLITS
    with pytest.raises(DataError, match="has no split 'valid'"):
        load_split("glyphs", "valid", 28, 1)
    with pytest.raises(DataError, match="'nope' is neither"):
        load_split("nope", "train", 28, 1)
