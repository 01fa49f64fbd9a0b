"""FID feature extraction: preprocessing, batching, network loading, offline errors, stats cache."""
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from augintae_tf.metrics import inception
from augintae_tf.metrics.frechet import activation_statistics
from augintae_tf.metrics.inception import (KERAS_WEIGHTS_FILE, TFGAN_RANGE, FeatureExtractor, FidNetworkError,
                                           cached_statistics, statistics_cache_path)


def tiny_network():
    """A small randomly initialised feature network: tests only (the library never builds one)."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(4, 5, strides=8),
                             keras.layers.GlobalAveragePooling2D()], name="tiny")


def test_preprocess_resizes_tiles_and_scales():
    extractor = FeatureExtractor(tiny_network())
    gray = np.linspace(0, 1, 2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28, 1)
    out = extractor.preprocess(gray).numpy()
    assert out.shape == (2, 299, 299, 3) and extractor.input_size == 299
    np.testing.assert_array_equal(out[..., 0], out[..., 2])  # grayscale tiled to RGB
    assert out.min() >= -1.0 and out.max() <= 1.0
    np.testing.assert_allclose(extractor.preprocess(np.zeros((1, 8, 8, 3))).numpy(), -1.0)
    np.testing.assert_allclose(extractor.preprocess(np.ones((1, 8, 8, 3))).numpy(), 1.0)
    # bilinear with half-pixel centres, as TF-GAN's preprocess_image / pytorch-fid
    expected = tf.image.resize(gray, [299, 299], method="bilinear").numpy() * 2 - 1
    np.testing.assert_allclose(out[..., :1], expected, atol=1e-6)


def test_features_are_batched_consistently_and_grayscale_equals_tiled_rgb(capsys):
    extractor = FeatureExtractor(tiny_network())
    images = np.random.default_rng(0).random((7, 16, 16, 1), dtype=np.float32)
    whole = extractor(images, batch_size=7, progress=False)
    assert whole.shape == (7, 4) and whole.dtype == np.float32
    np.testing.assert_allclose(extractor(images, batch_size=3, progress=True), whole, rtol=1e-5, atol=1e-6)
    assert "7/7" in capsys.readouterr().out  # the progress bar reached the end
    np.testing.assert_allclose(extractor(np.repeat(images, 3, axis=-1), progress=False), whole, rtol=1e-5,
                               atol=1e-6)


def test_fixed_input_size_of_a_keras_model_is_used():
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten()])
    extractor = FeatureExtractor(model)
    assert extractor.input_size == 32
    assert extractor(np.zeros((2, 28, 28, 3), np.float32), progress=False).shape == (2, 32 * 32 * 3)


def test_rejects_bad_images():
    extractor = FeatureExtractor(tiny_network())
    with pytest.raises(ValueError, match="1 or 3"):
        extractor.preprocess(np.zeros((1, 8, 8, 2)))
    with pytest.raises(ValueError, match="1 or 3"):
        extractor(np.zeros((8, 8, 3)), progress=False)


class PoolModule(tf.Module):
    """Stands in for TF-GAN's inception module: a dict with 'pool_3' [B, 1, 1, F] and 'logits'."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
        size = tf.cast(tf.shape(images)[1], tf.float32)
        mean = tf.reduce_mean(images, axis=[1, 2])
        features = tf.concat([mean, tf.fill([tf.shape(images)[0], 1], size)], axis=1)
        return {"pool_3": features[:, None, None, :], "logits": tf.zeros([tf.shape(images)[0], 1008])}


def test_saved_model_directory_is_loaded_with_tfgan_range(tmp_path):
    path = tmp_path / "inception_1"
    tf.saved_model.save(PoolModule(), str(path))
    extractor = FeatureExtractor(str(path))
    assert extractor.input_range == TFGAN_RANGE and extractor.name == "inception-1"
    feats = extractor(np.ones((3, 10, 10, 1), np.float32), progress=False)
    np.testing.assert_allclose(feats, [[127 / 128] * 3 + [299.0]] * 3, rtol=1e-6)
    assert FeatureExtractor(str(path), input_range=(-1.0, 1.0)).input_range == (-1.0, 1.0)


def test_bad_network_paths(tmp_path):
    with pytest.raises(FidNetworkError, match="does not exist"):
        FeatureExtractor(str(tmp_path / "missing.h5"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FidNetworkError, match="--fid-network"):
        FeatureExtractor(str(tmp_path / "notes.txt"))
    with pytest.raises(FidNetworkError, match="not a SavedModel"):
        FeatureExtractor(str(tmp_path))
    (tmp_path / "broken.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(FidNetworkError, match="cannot be loaded"):
        FeatureExtractor(str(tmp_path / "broken.weights.h5"))


@pytest.fixture
def empty_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(inception, "KERAS_FALLBACK_CACHE", tmp_path / "fallback")
    return tmp_path / "keras"


def test_offline_without_weights_fails_fast_with_instructions(empty_keras_home, monkeypatch):
    monkeypatch.setattr(inception, "_download_blocker", lambda url, timeout=3.0: "no route to host")
    start = time.monotonic()
    with pytest.raises(FidNetworkError) as error:
        FeatureExtractor(None)
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert "\n" not in message and "--fid-network" in message
    assert str(empty_keras_home / "models" / KERAS_WEIGHTS_FILE) in message


def test_failed_download_is_a_fid_network_error(empty_keras_home, monkeypatch):
    monkeypatch.setattr(inception, "_download_blocker", lambda url, timeout=3.0: None)

    def refuse(*args, **kwargs):
        raise Exception("URL fetch failure: 403 -- Forbidden")

    monkeypatch.setattr(keras.utils, "get_file", refuse)
    with pytest.raises(FidNetworkError, match="download failed: URL fetch failure.*--fid-network"):
        FeatureExtractor(None)


def test_connectivity_probe_is_bounded_by_its_timeout(monkeypatch):
    # A hanging name lookup / server must not hang the probe past its timeout.
    monkeypatch.setattr(inception.urllib.request, "urlopen", lambda *a, **k: time.sleep(5))
    start = time.monotonic()
    assert "no answer" in inception._download_blocker("https://example.invalid/w.h5", timeout=0.5)
    assert time.monotonic() - start < 2


def test_cached_keras_weights_are_used_without_network(empty_keras_home, monkeypatch):
    cached = empty_keras_home / "models" / KERAS_WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    monkeypatch.setattr(inception, "_download_blocker",
                        lambda url, timeout=3.0: pytest.fail("network probed"))
    loaded = []
    monkeypatch.setattr(inception, "keras_inception", lambda path: loaded.append(path) or tiny_network())
    extractor = FeatureExtractor(None)
    assert loaded == [cached] and extractor.name == "keras-inception-v3"


def test_statistics_cache_is_computed_once_and_written_atomically(tmp_path):
    acts = np.random.default_rng(0).normal(size=(40, 5))
    calls = []
    path = statistics_cache_path(tmp_path / "stats", "/data/my images", "test", "keras-inception-v3",
                                 image_size=28, num_images=40)
    assert path.name == "data-my-images_test_28px_keras-inception-v3_n40.npz"

    def compute():
        calls.append(1)
        return acts

    mu, sigma = cached_statistics(path, compute)
    mu2, sigma2 = cached_statistics(path, compute)
    assert len(calls) == 1
    expected = activation_statistics(acts)
    np.testing.assert_allclose(mu, expected[0])
    np.testing.assert_allclose(sigma2, expected[1])
    np.testing.assert_array_equal(mu, mu2)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left behind
    path.write_bytes(b"truncated")  # an unreadable cache is recomputed, not trusted
    cached_statistics(path, compute)
    assert len(calls) == 2


def test_statistics_cache_keys_differ():
    keys = {statistics_cache_path("c", d, s, n) for d in ("mnist", "emnist") for s in ("train", "test")
            for n in ("keras-inception-v3", "inception_1")}
    assert len(keys) == 8


# Keras' own save_weights trips a numpy-2 DeprecationWarning per variable; loading does not.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_keras_weights_file_gives_2048d_pool3_with_keras_preprocessing(tmp_path):
    # A random-weights InceptionV3 saved to disk stands in for the downloaded ImageNet file.
    keras.utils.set_random_seed(0)
    reference = keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg",
                                               input_shape=(299, 299, 3))
    reference.save_weights(tmp_path / "iv3.weights.h5")
    extractor = FeatureExtractor(str(tmp_path / "iv3.weights.h5"))
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    feats = extractor(images, batch_size=2, progress=False)
    assert feats.shape == (3, 2048)
    rgb255 = np.repeat(tf.image.resize(images, [299, 299]).numpy(), 3, axis=-1) * 255
    expected = reference(keras.applications.inception_v3.preprocess_input(rgb255))
    np.testing.assert_allclose(feats, keras.ops.convert_to_numpy(expected), rtol=1e-4, atol=1e-6)
