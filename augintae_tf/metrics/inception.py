"""FID features: Inception-v3 pool3 (2048-d) activations, and a cache for real-image statistics.

Preprocessing follows TF-GAN's ``preprocess_image`` and pytorch-fid (which the paper used, appendix
A.3): bilinear resize to 299x299 with half-pixel centres (``tf.image.resize``, = PyTorch's
``align_corners=False``), grayscale tiled to 3 channels, values mapped to the range the network
was trained on.

Networks (``FeatureExtractor(network)``):

* ``None`` -- Keras ``InceptionV3(weights="imagenet", include_top=False, pooling="avg")``, the
  weights read from the Keras cache or downloaded once.  Input range [-1, 1] (Keras "tf"-mode
  ``preprocess_input``).  NOTE: these are Keras' ImageNet weights, not the 2015 Inception graph of
  the official FID / pytorch-fid / TF-GAN, so absolute numbers are comparable only with other runs of
  this extractor, not with the paper's or the student report's tables.
* a path to a Keras weights file (``.h5`` / ``.weights.h5``) for that same InceptionV3 (notop).
* a path to a SavedModel directory, e.g. TF-GAN's TF-Hub module ``tfgan/eval/inception/1``
  (downloaded from tfhub.dev / Kaggle Models and extracted).  That module holds the 2015 FID graph;
  it returns ``{"logits", "pool_3"}`` and takes 299x299 RGB in TF-GAN's ``preprocess_image`` range,
  ``(255 x - 128) / 128`` = [-1, 127/128] for x in [0, 1] -- the one to use for paper-comparable FIDs.
* a ``keras.Model`` or any callable ``[B, S, S, 3] -> [B, ...]`` (tests, other feature networks).

Without weights and without internet the extractor raises :class:`FidNetworkError` within seconds;
it never falls back to a randomly initialised network.
"""
from __future__ import annotations

import os
import re
import threading
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from augintae_tf.atomic import atomic_path
from augintae_tf.errors import FidNetworkError
from augintae_tf.metrics.frechet import activation_statistics

INCEPTION_SIZE = 299
KERAS_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
                     + KERAS_WEIGHTS_FILE)
KERAS_WEIGHTS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"  # as in keras/src/applications/inception_v3.py
KERAS_RANGE = (-1.0, 1.0)  # keras.applications.inception_v3.preprocess_input: x / 127.5 - 1
TFGAN_RANGE = (-1.0, 127.0 / 128.0)  # tfgan.eval.preprocess_image: (x - 128) / 128 on [0, 255]
CONNECT_TIMEOUT_S = 3.0
# keras.utils.get_file falls back here when the cache dir is not writable, so a previous download
# may sit there.
KERAS_FALLBACK_CACHE = Path("/tmp/.keras")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def keras_cache_dir() -> Path:
    """Where Keras caches downloads: ``$KERAS_HOME`` or ``~/.keras``.

    Read at call time: Keras itself reads ``KERAS_HOME`` once, at import.
    """
    return Path(os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser())


def _cached_keras_weights() -> Path | None:
    for base in (keras_cache_dir(), KERAS_FALLBACK_CACHE):
        path = base / "models" / KERAS_WEIGHTS_FILE
        if path.is_file():
            return path
    return None


def _download_blocker(url: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """Why ``url`` cannot be fetched right now (``None`` if a HEAD request answers in ``timeout`` s).

    Runs in a daemon thread because name resolution ignores socket timeouts: an offline machine
    whose DNS hangs still gets its answer in ``timeout`` seconds instead of a stuck download.
    urllib honours the usual proxy variables, exactly as the download itself will.
    """
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            outcome.append(None)
        except Exception as exc:  # URLError, HTTPError, socket errors: all mean "cannot download"
            outcome.append(_first_line(exc))

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"no answer from {urllib.parse.urlsplit(url).hostname} in {timeout:g} s"
    return outcome[0]


def _missing_weights_message(reason: str) -> str:
    target = keras_cache_dir() / "models" / KERAS_WEIGHTS_FILE
    return (f"Inception-v3 weights are not cached at {target} and cannot be downloaded ({reason}); "
            "on a machine with internet run `python -c 'import keras; keras.applications.InceptionV3("
            "weights=\"imagenet\", include_top=False)'` and copy ~/.keras/models/"
            f"{KERAS_WEIGHTS_FILE} to {target.parent}/, or pass --fid-network PATH (that weights "
            "file, or the extracted TF-GAN inception SavedModel directory tfgan/eval/inception/1)")


def keras_inception_weights() -> Path:
    """The cached Keras InceptionV3 notop weights, downloading them once if they are missing."""
    cached = _cached_keras_weights()
    if cached is not None:
        return cached
    blocker = _download_blocker(KERAS_WEIGHTS_URL)
    if blocker is not None:
        raise FidNetworkError(_missing_weights_message(f"offline? {blocker}"))
    base = keras_cache_dir()
    base.mkdir(parents=True, exist_ok=True)
    try:
        return Path(keras.utils.get_file(KERAS_WEIGHTS_FILE, KERAS_WEIGHTS_URL, cache_subdir="models",
                                         file_hash=KERAS_WEIGHTS_MD5, cache_dir=str(base)))
    except Exception as exc:  # urllib, hash mismatch, disk: all mean "no weights"
        raise FidNetworkError(_missing_weights_message(f"download failed: {_first_line(exc)}")) from None


def keras_inception(weights_path: str | os.PathLike) -> keras.Model:
    """Keras InceptionV3 (no top, global average pool -> 2048-d) with weights from a local file."""
    model = keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg",
                                           input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
    try:
        model.load_weights(str(weights_path))
    except Exception as exc:
        raise FidNetworkError(f"{weights_path} cannot be loaded as Keras InceptionV3 notop weights: "
                              f"{_first_line(exc)}") from None
    return model


def saved_model_network(path: str | os.PathLike) -> Callable[[tf.Tensor], tf.Tensor]:
    """A SavedModel directory (e.g. TF-GAN's inception module) as ``images -> pool3 activations``.

    TF-GAN calls the loaded module directly (``tfhub.load(module)(images)``); modules that are not
    callable are called through their ``default`` / ``serving_default`` signature.  Of a dict of
    outputs, ``pool_3`` is taken (TF-GAN's ``INCEPTION_FINAL_POOL``), else the only output.
    """
    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise FidNetworkError(f"{path} is not a SavedModel directory (no saved_model.pb); extract a "
                              "downloaded TF-Hub .tar.gz module first")
    try:
        module = tf.saved_model.load(str(path))
    except Exception as exc:
        raise FidNetworkError(f"{path} cannot be loaded as a SavedModel: {_first_line(exc)}") from None
    if callable(module):
        call = module
    else:
        signature = next((module.signatures[k] for k in ("default", "serving_default")
                          if k in module.signatures), None)
        if signature is None:
            raise FidNetworkError(f"SavedModel {path} is neither callable nor has a default signature")
        inputs = list(signature.structured_input_signature[1])
        if len(inputs) != 1:
            raise FidNetworkError(f"SavedModel {path}'s signature takes {inputs}; expected one image input")
        input_name = inputs[0]

        def call(images):
            return signature(**{input_name: images})

    def network(images: tf.Tensor) -> tf.Tensor:
        out = call(images)
        if isinstance(out, dict):
            if "pool_3" in out:
                out = out["pool_3"]
            elif len(out) == 1:
                out = next(iter(out.values()))
            else:
                raise FidNetworkError(f"SavedModel {path} returns {sorted(out)}; "
                                      "expected 'pool_3' or a single output")
        return out

    network.module = module  # the loaded functions need their module (and its variables) alive
    return network


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", str(text)).strip("-.") or "x"  # "_" separates key parts


def _load_network(network: str | os.PathLike | None) -> tuple[Callable, tuple[float, float], str]:
    """``None`` or a path -> (network, input range, name for cache keys)."""
    if network is None:
        return keras_inception(keras_inception_weights()), KERAS_RANGE, "keras-inception-v3"
    path = Path(network).expanduser()
    if path.is_dir():
        return saved_model_network(path), TFGAN_RANGE, _slug(path.name)
    if path.is_file() and path.name.endswith((".h5", ".hdf5")):
        name = "keras-inception-v3" if path.name == KERAS_WEIGHTS_FILE else _slug(path.name)
        return keras_inception(path), KERAS_RANGE, name
    what = ("does not exist" if not path.exists()
            else "is neither a .h5 weights file nor a SavedModel directory")
    raise FidNetworkError(f"FID network {str(network)!r} {what}; pass --fid-network PATH to Keras "
                          f"InceptionV3 notop weights ({KERAS_WEIGHTS_FILE}) or to the extracted TF-GAN "
                          "inception SavedModel directory")


class FeatureExtractor:
    """``images [N, H, W, C] in [0, 1] -> activations [N, F]``, batched, for FID.

    Args:
        network: ``None`` (Keras ImageNet InceptionV3, cached or downloaded), a path (Keras weights
            file or SavedModel directory; see the module docstring), or a ``keras.Model`` / callable
            mapping ``[B, S, S, 3]`` images in ``input_range`` to ``[B, ...]`` features.
        input_size: side S the network takes; default 299, or a Keras model's fixed input size.
        input_range: where [0, 1] pixels are mapped; default: the network's own range (Keras
            weights and models/callables [-1, 1], SavedModel directories TF-GAN's [-1, 127/128]).
        name: identifies the network in statistics cache keys (:func:`statistics_cache_path`).
    """

    def __init__(self, network: keras.Model | Callable | str | os.PathLike | None = None, *,
                 input_size: int | None = None, input_range: tuple[float, float] | None = None,
                 name: str | None = None):
        if network is None or isinstance(network, (str, os.PathLike)):
            self.network, own_range, default_name = _load_network(network)
        elif callable(network):
            self.network, own_range = network, KERAS_RANGE
            default_name = _slug(getattr(network, "name", None) or getattr(network, "__name__", None)
                                 or type(network).__name__)
        else:
            raise TypeError("network must be None, a path, a keras.Model or a callable, "
                            f"got {type(network).__name__}")
        self.input_range = tuple(input_range or own_range)
        self.name = name or default_name
        self.input_size = int(input_size or _fixed_input_size(self.network) or INCEPTION_SIZE)
        # Traced once per input shape: the full batch, the last one, and 1 vs 3 channels at most.
        self._features = tf.function(self._forward)

    def preprocess(self, images) -> tf.Tensor:
        """[0, 1] images -> ``[B, S, S, 3]`` float32 in ``input_range`` (TF-GAN ``preprocess_image``)."""
        images = tf.convert_to_tensor(images, dtype=tf.float32)
        _check_images(images.shape)
        if tuple(images.shape[1:3]) != (self.input_size, self.input_size):
            images = tf.image.resize(images, [self.input_size, self.input_size], method="bilinear")
        if images.shape[-1] == 1:
            images = tf.tile(images, [1, 1, 1, 3])  # grayscale -> RGB, as pytorch-fid users do
        low, high = self.input_range
        return images * (high - low) + low

    def _forward(self, images: tf.Tensor) -> tf.Tensor:
        features = self.network(self.preprocess(images))
        return tf.reshape(features, [tf.shape(features)[0], -1])  # pool3 may come as [B, 1, 1, F]

    def __call__(self, images, batch_size: int = 50, progress: bool = True) -> np.ndarray:
        """Activations ``[N, F]`` (float32) of ``images`` ``[N, H, W, C]`` in [0, 1], in batches."""
        _check_images(np.shape(images))
        count = len(images)
        if count == 0:
            raise ValueError("no images to extract features from")
        bar = keras.utils.Progbar(count, unit_name="image") if progress else None
        chunks = []
        for start in range(0, count, batch_size):
            batch = np.asarray(images[start:start + batch_size], dtype=np.float32)
            chunks.append(self._features(batch).numpy())
            if bar is not None:
                bar.update(min(start + batch_size, count))
        return np.concatenate(chunks).astype(np.float32, copy=False)


def _check_images(shape) -> None:
    if len(shape) != 4 or shape[-1] not in (1, 3):
        raise ValueError(f"images must be [N, H, W, 1 or 3], got shape {tuple(shape)}")


def _fixed_input_size(network) -> int | None:
    """A Keras model's square input side if it is fixed (``None`` for callables / dynamic shapes)."""
    shape = getattr(network, "input_shape", None) if isinstance(network, keras.Model) else None
    if shape is not None and len(shape) == 4 and shape[1] is not None and shape[1] == shape[2]:
        return int(shape[1])
    return None


def statistics_cache_path(cache_dir: str | os.PathLike, dataset: str, split: str, network: str,
                          image_size: int | None = None, num_images: int | None = None) -> Path:
    """``cache_dir/DATASET_SPLIT[_SIZEpx]_NETWORK[_nNUM].npz``: one file per real-image statistic.

    Everything that changes the statistics belongs in the key: the dataset (a name or a folder
    path), the split, the feature network (:attr:`FeatureExtractor.name`), the resolution the
    images were loaded at, and how many images were used.
    """
    parts = [_slug(dataset), _slug(split)]
    if image_size is not None:
        parts.append(f"{int(image_size)}px")
    parts.append(_slug(network))
    if num_images is not None:
        parts.append(f"n{int(num_images)}")
    return Path(cache_dir) / ("_".join(parts) + ".npz")


def cached_statistics(cache_path: str | os.PathLike,
                      compute_fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, sigma)`` from ``cache_path`` (.npz), or from ``compute_fn()`` activations ``[N, F]``,
    then saved there atomically (temp file + ``os.replace``, so a killed run leaves no half file).

    An unreadable cache file is recomputed and replaced rather than trusted.
    """
    path = Path(cache_path)
    if path.is_file():
        try:
            with np.load(path) as data:
                return data["mu"], data["sigma"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass
    acts = np.asarray(compute_fn())
    mu, sigma = activation_statistics(acts)
    with atomic_path(path, what="FID statistics") as tmp, open(tmp, "wb") as handle:
        np.savez(handle, mu=mu, sigma=sigma, num_images=len(acts))  # a handle: no ".npz" appended
    return mu, sigma
