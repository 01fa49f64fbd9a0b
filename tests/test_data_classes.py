"""data.classes, class-balanced batches and per-class augmentation (the Pegasus recipe)."""
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from augintae_tf.config import ConfigError, load_config
from augintae_tf.data import DataError, load_arrays, make_dataset
from augintae_tf.data.classes import class_augment, with_class_augment

VALUES = {"bird": 50, "cat": 120, "horse": 200}  # every image of a class has this grey value


@pytest.fixture
def folder(tmp_path):
    for cls, n in (("bird", 3), ("cat", 5), ("horse", 9)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.fromarray(np.full((16, 16, 3), VALUES[cls], np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    return tmp_path


def config(root, **sets):
    return load_config(None, {"data.dataset": str(root), "data.image_size": "8",
                              "data.channels": "3", "model.backbone": "infogan", **sets})


def test_classes_filter_and_relabel_in_the_listed_order(folder):
    images, labels = load_arrays(config(folder, **{"data.classes": "horse,bird"}).data, "train")
    assert np.bincount(labels).tolist() == [9, 3]
    np.testing.assert_allclose(images[labels == 0].max(), 200 / 255, rtol=1e-6)
    np.testing.assert_allclose(images[labels == 1].max(), 50 / 255, rtol=1e-6)
    _, by_label = load_arrays(config(folder, **{"data.classes": "1"}).data, "train")  # "cat"
    assert by_label.tolist() == [0] * 5
    with pytest.raises(DataError, match=r"^data.classes: 'zebra' is not a class of .*; its "
                                        r"classes: bird, cat, horse$"):
        load_arrays(config(folder, **{"data.classes": "horse,zebra"}).data, "train")


def test_balanced_batches_hold_equal_images_per_class(folder):
    cfg = config(folder, **{"data.classes": "horse,bird", "data.balanced": "true"})
    seen = []
    for images, labels in make_dataset(cfg.data, "train", 4, repeat=True, seed=3).take(20):
        assert labels.numpy().tolist() == [0, 0, 1, 1]
        grey = np.round(images.numpy()[:, 0, 0, 0] * 255).astype(int).tolist()
        assert grey == [200, 200, 50, 50]
        seen.append(labels.numpy())
    assert len(seen) == 20  # the 3 birds repeat as often as needed, the 9 horses too
    with pytest.raises(DataError, match=r"^data.balanced: the batch size 5 is not a multiple of "
                                        r"the 2 classes; choose e.g. --batch-size 4$"):
        make_dataset(cfg.data, "train", 5, repeat=True)
    all_three = config(folder, **{"data.balanced": "true"})  # every subfolder, no filter
    _, labels = next(iter(make_dataset(all_three.data, "train", 6, repeat=True)))
    assert labels.numpy().tolist() == [0, 0, 1, 1, 2, 2]


def test_class_augment_config_is_checked():
    with pytest.raises(ConfigError, match=r"^data.class_augment: 'bird' is not allowed; expected "
                                          r"a class listed in data.classes$"):
        load_config("pegasus", {"data.classes": "horse"})  # bird keeps its augmentation entry
    with pytest.raises(ConfigError, match=r"^data.class_augment.horse: \[0.5, 0.5, 0.9\] is not "
                                          r"allowed; expected \[p_crop in"):
        load_config("pegasus", {"data.class_augment": {"horse": [0.5, 0.5, 0.9]}})
    cfg = load_config("pegasus")
    assert cfg.data.class_augment == {"horse": [0.05, 0.5, 0.02], "bird": [0.3, 0.5, 0.2]}
    assert (cfg.data.classes, cfg.data.balanced, cfg.train.batch_size) == (["horse", "bird"], True, 8)


def test_class_augment_probabilities_and_transforms():
    image = np.zeros((8, 8, 1), np.uint8)
    image[0, :4] = 255  # a bar at the top-left: rotations move it, crops enlarge it
    table = tf.constant([[0.0, 1.0, 0.5], [0.3, 0.5, 0.2], [0.0, 1.0, 0.0]], tf.float32)
    rot_cw = np.rot90(image, 3)  # tf.image.rot90 k=3: clockwise
    rot_ccw = np.rot90(image, 1)
    outs = [class_augment(tf.constant(image), 0, tf.constant([0, i], tf.int64), table).numpy()
            for i in range(200)]
    kinds = [("cw" if np.array_equal(o, rot_cw) else "ccw" if np.array_equal(o, rot_ccw) else "?")
             for o in outs]
    assert "?" not in kinds and 0.35 < kinds.count("cw") / 200 < 0.65  # p 0.5 each way: always
    same = [class_augment(tf.constant(image), 2, tf.constant([0, i], tf.int64), table).numpy()
            for i in range(20)]
    assert all(np.array_equal(o, image) for o in same)  # zero probabilities: identity
    # measured over element streams: rotations 20 % each way (no crop) ...
    rows = np.array([[0.0, 1.0, 0.2], [0.3, 0.5, 0.0]], np.float32)
    ds = tf.data.Dataset.from_tensors((tf.constant(image), 0)).repeat(2000)
    outs = [x for x, _ in with_class_augment(ds, rows, seed=5).as_numpy_iterator()]
    assert abs(np.mean([np.array_equal(o, rot_cw) for o in outs]) - 0.2) < 0.035
    assert abs(np.mean([np.array_equal(o, rot_ccw) for o in outs]) - 0.2) < 0.035
    # ... and crops 30 %, side round(8 * U(0.5, 1)): 1 in 8 crops is the whole image
    crops = tf.data.Dataset.from_tensors((tf.constant(image), 1)).repeat(2000)
    cropped = [x for x, _ in with_class_augment(crops, rows, seed=6).as_numpy_iterator()]
    assert abs(np.mean([not np.array_equal(o, image) for o in cropped]) - 0.3 * 7 / 8) < 0.035
    again = [x for x, _ in with_class_augment(ds, rows, seed=5).take(50)]
    np.testing.assert_array_equal(np.stack(again), np.stack(outs[:50]))  # deterministic


def test_stl10_horse_and_bird_via_mocked_tfds():
    with tfds.testing.mock_data(num_examples=40), \
            mock.patch.object(tfds.core.DatasetBuilder, "is_prepared", return_value=True):
        raw = list(tfds.builder("stl10").as_dataset(split="train", shuffle_files=False)
                   .as_numpy_iterator())
        cfg = load_config("pegasus", {"data.image_size": "64"})
        images, labels = load_arrays(cfg.data, "train")
    # STL-10 labels: bird 1, horse 6; the preset lists [horse, bird] -> 0, 1, in source order
    want = [{6: 0, 1: 1}[int(r["label"])] for r in raw if int(r["label"]) in (1, 6)]
    assert want and labels.tolist() == want
    assert images.shape == (len(want), 64, 64, 3)
