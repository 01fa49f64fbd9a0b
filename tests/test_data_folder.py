"""Image folders as datasets and as few-shot seed images: modes, crops, labels, broken files."""
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from augintae_tf.data import DataError, label_names, load_image_files, load_split

LUMA = np.array([0.2989, 0.5870, 0.1140], np.float32)
STEP = 1 / 255 + 1e-6


def ramp(h: int, w: int) -> np.ndarray:
    """uint8 [h, w]: every column a different value, so a crop's position is visible."""
    return np.tile((np.arange(w) * 255 // max(w - 1, 1)).astype(np.uint8), (h, 1))


@pytest.fixture
def classes(tmp_path):
    """Two classes of tiny images in every mode and several non-square sizes and formats."""
    root = tmp_path / "images"
    (root / "alpha" / "nested").mkdir(parents=True)
    (root / "beta").mkdir()
    (root / "empty_class").mkdir()
    Image.fromarray(ramp(12, 20), "L").save(root / "alpha" / "a_gray.png")
    rgb = np.zeros((20, 12, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    Image.fromarray(rgb).save(root / "alpha" / "nested" / "b_rgb.bmp")
    rgba = np.zeros((12, 12, 4), np.uint8)
    rgba[...] = (200, 100, 50, 128)
    Image.fromarray(rgba, "RGBA").save(root / "beta" / "c_rgba.png")
    palette = Image.fromarray(np.array([[0, 1, 2] * 4] * 12, np.uint8), "P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    palette.save(root / "beta" / "d_palette.gif")
    Image.fromarray(rgb[:12]).save(root / "beta" / "e_rgb.webp", lossless=True)
    Image.fromarray(ramp(14, 12), "L").save(root / "beta" / "f_gray.jpg", quality=100)
    (root / "beta" / "notes.txt").write_text("not an image, ignored by extension")
    (root / "beta" / ".hidden.png").write_bytes(b"ignored: hidden")
    return root


def test_modes_sizes_labels_and_names(classes):
    images, labels = zip(*load_split(str(classes), "train", 12, 3).as_numpy_iterator())
    images, labels = np.stack(images), np.array(labels)
    assert images.shape == (6, 12, 12, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, 1, 1])  # sorted classes, sorted paths
    assert labels.dtype == np.int32
    assert label_names(str(classes), "train") == ["alpha", "beta"]  # empty_class is no class
    gray, rgb, rgba, palette, webp, _ = images
    np.testing.assert_allclose(gray[..., 0], gray[..., 2], atol=1e-6)  # gray tiled to 3 channels
    np.testing.assert_allclose(rgb, np.broadcast_to([200 / 255, 100 / 255, 50 / 255], rgb.shape),
                               atol=STEP)
    # RGBA is composited onto black: colour times alpha, then the alpha channel is dropped.
    np.testing.assert_allclose(rgba[0, 0], np.array([200, 100, 50]) / 255 * 128 / 255, atol=STEP)
    np.testing.assert_allclose(palette[0, :3], np.eye(3), atol=STEP)  # palette -> its colours
    np.testing.assert_allclose(webp, rgb, atol=STEP)


def test_centre_crop_of_non_square_images(classes):
    images, _ = load_image_files(classes / "alpha" / "a_gray.png", 12, 1)
    np.testing.assert_allclose(images[0, ..., 0], ramp(12, 20)[:, 4:16] / 255.0, atol=1e-6)
    tall, _ = load_image_files(classes / "beta" / "f_gray.jpg", 12, 1)
    assert tall.shape == (1, 12, 12, 1)
    np.testing.assert_allclose(tall[0, ..., 0], ramp(14, 12)[1:13] / 255.0, atol=3 / 255)


def test_grayscale_conversion_uses_luma(classes):
    images, _ = load_image_files(classes / "alpha" / "nested" / "b_rgb.bmp", 12, 1)
    expected = np.array([200, 100, 50], np.float32) / 255 @ LUMA
    np.testing.assert_allclose(images[..., 0], expected, atol=STEP)


def test_resize_keeps_range_and_shape(classes):
    images, paths = load_image_files(classes, 5, 1)
    assert images.shape == (6, 5, 5, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert paths == sorted(paths) and len(paths) == 6


def test_seed_images_match_the_folder_dataset(classes):
    seeds, paths = load_image_files(
        [classes / "beta" / "c_rgba.png", classes / "alpha" / "a_gray.png"], 12, 3)
    assert [p.name for p in paths] == ["a_gray.png", "c_rgba.png"]  # sorted
    dataset = np.stack([x for x, _ in load_split(str(classes), "test", 12, 3).as_numpy_iterator()])
    np.testing.assert_array_equal(seeds, dataset[[0, 2]])


def test_corrupt_file_is_skipped_and_named(classes):
    (classes / "alpha" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n definitely not a png")
    with pytest.warns(UserWarning) as caught:
        images = list(load_split(str(classes), "train", 8, 1).as_numpy_iterator())
    messages = [str(w.message) for w in caught]
    assert len(images) == 6
    assert [m for m in messages if "broken.png" in m] == [
        f"skipping unreadable image {classes}/alpha/broken.png: Truncated File Read"]
    with pytest.warns(UserWarning) as caught:
        seeds, paths = load_image_files(classes / "alpha", 8, 1)
    assert any("broken.png" in str(w.message) for w in caught)
    assert len(seeds) == 2 and all(p.name != "broken.png" for p in paths)


def test_truncated_file_is_skipped(classes):
    data = (classes / "beta" / "c_rgba.png").read_bytes()
    (classes / "beta" / "c_truncated.png").write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning) as caught:
        images, paths = load_image_files(classes / "beta", 8, 1)
    assert any("c_truncated.png" in str(w.message) for w in caught)
    assert len(images) == 4 and "c_truncated.png" not in {p.name for p in paths}


def test_folder_without_subfolders_is_one_class(tmp_path):
    Image.fromarray(ramp(8, 8), "L").save(tmp_path / "one.png")
    Image.fromarray(ramp(8, 8), "L").save(tmp_path / "two.png")
    labels = [y for _, y in load_split(str(tmp_path), "train", 8, 1).as_numpy_iterator()]
    assert labels == [0, 0]
    assert label_names(str(tmp_path), "train") == [tmp_path.name]


def test_empty_or_unreadable_folder_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=f"image folder {empty} contains no readable image"):
        load_split(str(empty), "train", 8, 1)
    (empty / "bad.jpg").write_bytes(b"garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=str(empty)):
            load_image_files(empty, 8, 1)
    with pytest.raises(DataError, match="do not exist"):
        load_image_files(tmp_path / "missing", 8, 1)


def test_limit_takes_the_first_images(classes):
    assert len(list(load_split(str(classes), "train", 8, 1, limit=3))) == 3


def broken_folder(root):
    """Twelve 10x10 grayscale images, a truncated PNG, a text file named .png and a 1-pixel
    image: what a user's folder holds."""
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (10, 10), np.uint8), "L").save(root / f"{i:02d}.png")
    data = (root / "00.png").read_bytes()
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "notes.png").write_text("a text file with an image's name")
    Image.new("L", (1, 1), 255).save(root / "pixel.png")
    return root


def test_broken_and_stray_files_are_named_once_per_command_and_not_counted(tmp_path, capsys):
    from augintae_tf.data.folder import look_at_folder
    from augintae_tf.notices import Notice, once_per_command

    root = broken_folder(tmp_path / "mine")
    expected = [
        f"skipping unreadable image {root}/notes.png: cannot identify image file "
        f"'{root}/notes.png'",
        f"skipping image {root}/pixel.png: 1x1 is under 50% of the typical short side of "
        f"the images in {root} (10 px, the median)",
        f"skipping unreadable image {root}/truncated.png: image file is truncated"]
    capsys.readouterr()
    with once_per_command():
        look = look_at_folder(root)
        for split in ("train", "test"):  # two more passes over the folder
            images = list(load_split(str(root), split, 8, 1).as_numpy_iterator())
    said = capsys.readouterr().err.splitlines()  # one line each, no source line echoed
    assert sorted(said) == sorted(f"warning: {line}" for line in expected)
    assert len(images) == 12 and (look.files, look.unreadable, look.small) == (12, 2, 1)
    assert look.describe() == ("12 grayscale images of 10x10 in 1 class (skipped 2 unreadable "
                               "files and 1 image under 50% of the typical 10 px)")
    with warnings.catch_warnings(record=True) as caught:  # outside a command: every pass says it
        warnings.simplefilter("always")
        load_split(str(root), "train", 8, 1)
        load_split(str(root), "train", 8, 1)
    assert len([w for w in caught if issubclass(w.category, Notice)]) == 6


def test_files_that_fail_for_root_too_are_named(tmp_path):
    """A dangling link and a FIFO fail to open whoever runs the test (a FIFO must not block)."""
    import os

    from augintae_tf.data.folder import look_at_folder

    root = tmp_path / "odd"
    root.mkdir()
    for i in range(3):
        Image.fromarray(ramp(8, 8), "L").save(root / f"{i}.png")
    (root / "gone.png").symlink_to(tmp_path / "deleted.png")
    os.mkfifo(root / "pipe.png")
    with pytest.warns(UserWarning) as caught:
        look = look_at_folder(root)
    said = sorted(str(w.message) for w in caught)
    assert said == [f"skipping unreadable image {root}/gone.png: [Errno 2] No such file or "
                    f"directory: '{root}/gone.png'",
                    f"skipping unreadable image {root}/pipe.png: {root}/pipe.png is not a "
                    "regular file"]
    assert (look.files, look.unreadable) == (3, 2)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads a chmod 000 file; the dangling link and FIFO cover it")
def test_an_unreadable_permission_is_named(tmp_path):
    root = tmp_path / "locked"
    root.mkdir()
    for i in range(3):
        Image.fromarray(ramp(8, 8), "L").save(root / f"{i}.png")
    (root / "1.png").chmod(0)
    with pytest.warns(UserWarning, match=f"skipping unreadable image {root}/1.png: .*Permission "
                                         "denied"):
        images = list(load_split(str(root), "train", 8, 1).as_numpy_iterator())
    assert len(images) == 2
