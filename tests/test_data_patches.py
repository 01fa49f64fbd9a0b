"""``patches``: tiles of scikit-image's real photographs and its LFW faces, a far novel domain."""
import numpy as np
import pytest
import skimage.data
from click.testing import CliRunner
from PIL import Image

from augintae_tf.cli.main import main
from augintae_tf.config import load_config
from augintae_tf.data import is_available_offline, label_names, load_arrays, patches


@pytest.fixture(scope="module")
def arrays():
    return load_arrays(load_config("digits").data, "test", dataset="patches")


def _resized(square) -> np.ndarray:
    big = Image.fromarray(np.asarray(square, np.float32), "F").resize((28, 28), Image.BICUBIC)
    return np.round(np.clip(np.asarray(big), 0, 1) * 255) / 255


def test_ten_classes_of_non_overlapping_tiles_capped_at_300(arrays):
    images, labels = arrays
    assert label_names("patches", "test") == ["brick", "grass", "gravel", "coins", "hubble",
                                              "ihc", "text", "page", "fur", "face"]
    expected = []
    for function in ("brick", "grass", "gravel", "coins", "hubble_deep_field",
                     "immunohistochemistry", "text", "page", "chelsea"):
        height, width = skimage.data.__dict__[function]().shape[:2]
        expected.append(min((height // 24) * (width // 24), 300))
    np.testing.assert_array_equal(np.bincount(labels), expected + [100])
    assert images.shape[1:] == (28, 28, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    # real within-class variety: no two images of a class are the same
    for label in range(10):
        members = images[labels == label].reshape(int(np.sum(labels == label)), -1)
        assert len(np.unique(members, axis=0)) == len(members)


def test_tiles_are_the_photo_squares_resized_and_faces_are_lfw(arrays):
    images, labels = arrays
    text = skimage.data.text().astype(np.float64) / 255  # grayscale, 126 tiles: none dropped
    row, col = 2, 5
    square = text[24 * row:24 * row + 24, 24 * col:24 * col + 24]
    index = row * (text.shape[1] // 24) + col
    np.testing.assert_allclose(images[labels == 6][index, :, :, 0], _resized(square), atol=1e-6)
    assert images[labels == 0].shape[0] == 300  # brick: 441 tiles, a fixed subset of 300
    first_face = skimage.data.lfw_subset()[0]
    np.testing.assert_allclose(images[labels == 9][0, :, :, 0], _resized(first_face), atol=1e-6)
    again, _ = load_arrays(load_config("digits").data, "test", dataset="patches")
    np.testing.assert_array_equal(images, again)


def test_rgb_photos_are_luma():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 1] = (0, 0, 255)
    np.testing.assert_allclose(patches.gray(rgb), [[0.299, 0.0], [0.0, 0.114]])


def test_listed_offline_with_its_one_split_and_others_refused(tmp_path):
    assert is_available_offline("patches")
    result = CliRunner().invoke(main, ["datasets"])
    line = next(line for line in result.output.splitlines() if line.startswith("patches"))
    assert "28x28" in line and line.split()[-1] == "yes"
    result = CliRunner().invoke(main, ["export-seeds", "--dataset", "patches", "--split", "train",
                                       "--num", "2", "--out", str(tmp_path / "seeds")])
    assert result.exit_code != 0
    assert "dataset 'patches' has no split 'train'; splits: test" in result.output
    assert not (tmp_path / "seeds").exists()


def test_missing_scikit_image_is_one_line_naming_the_extra(monkeypatch):
    patches._all.cache_clear()
    monkeypatch.setattr(patches, "available", lambda: False)
    try:
        with pytest.raises(patches.DataError, match=r"pip install 'augintae-tf\[patches\]'"):
            patches.split_arrays("test")
    finally:
        patches._all.cache_clear()
