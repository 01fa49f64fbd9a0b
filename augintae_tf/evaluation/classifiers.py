"""Classifier-based metrics (appendix A.3): a domain classifier, a novel-class classifier, FD-clf.

Both classifiers are the project's encoder backbone (:func:`augintae_tf.nets.build_encoder`) with
``FEATURE_DIM`` outputs, a LeakyReLU and a softmax layer.  The LeakyReLU outputs are the
"penultimate features" whose Fréchet distance between generated and real novel images is FD-clf:
like FID, but with a network trained on the novel domain itself, so it needs no downloaded weights.

They are trained once per run on real images (Adam 1e-3; ``holdout`` of the data is kept aside
to report their own accuracy) and cached as ``DIR/{name}.weights.h5`` (+ ``.json`` with the
class list, the data key and the held-out accuracy); a later evaluation with the same data key
reuses them instead of training again.

Epochs default to :func:`~augintae_tf.evaluation.protocols.auto_epochs`: at least ``MIN_EPOCHS``
and at least ``MIN_STEPS`` optimizer steps.  A fixed 3 left the quality classifier near chance on glyphs' comparison split
(the benchmark trains it 10 epochs) and on a small folder (110 images of 6 drawn shapes at
64x64: held-out accuracy 0.25 after 3 epochs, 0.29 after 10, 0.71 after 30 = 60 steps).  One whose
held-out accuracy is still within chance (:func:`chance_problem`) makes every figure read from
it noise; the callers report those as "not enough data to judge".
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from augintae_tf.atomic import atomic_path, write_json
from augintae_tf.evaluation.protocols import auto_epochs
from augintae_tf.metrics.frechet import frechet_distance_from_activations
from augintae_tf.nets import build_encoder

FEATURE_DIM = 64
NOT_ENOUGH = "not enough data to judge"


@dataclass
class TrainedClassifier:
    """A softmax classifier over ``classes`` (original labels, index = output unit)."""

    model: keras.Model  # images -> class probabilities
    features: keras.Model  # images -> penultimate features [N, FEATURE_DIM]
    classes: np.ndarray
    accuracy: float  # on the held-out real images
    trained: bool  # False when loaded from the cache
    held_out: int = 0  # how many held-out images measured ``accuracy`` (0: not recorded)
    epochs: int | None = None

    def probabilities(self, images, batch_size: int = 256) -> np.ndarray:
        return _predict(self.model, images, batch_size)

    def predict(self, images, batch_size: int = 256) -> np.ndarray:
        """Original labels of the most likely class, ``[N]``."""
        return self.classes[np.argmax(self.probabilities(images, batch_size), axis=1)]

    def embed(self, images, batch_size: int = 256) -> np.ndarray:
        return _predict(self.features, images, batch_size).astype(np.float64)


def _predict(model, images, batch_size: int) -> np.ndarray:
    images = np.asarray(images, np.float32)
    out = [keras.ops.convert_to_numpy(model(images[i:i + batch_size], training=False))
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out)


def build_classifier(backbone: str, image_size: int, channels: int, num_classes: int,
                     width: float = 1.0, name: str = "classifier") -> tuple[keras.Model, keras.Model]:
    """(classifier images -> softmax ``[B, num_classes]``, feature model images -> ``[B, FEATURE_DIM]``)."""
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    encoder = build_encoder(backbone, image_size, channels, outputs=FEATURE_DIM, width=width,
                            name=f"{name}_backbone")
    inputs = keras.Input((image_size, image_size, channels), name="images")
    features = keras.layers.LeakyReLU(0.2, name="features")(encoder(inputs))
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="softmax")(features)
    return keras.Model(inputs, probabilities, name=name), keras.Model(inputs, features, name=f"{name}_features")


@contextlib.contextmanager
def _without_remapper():
    """Grappler's remapper pass off while the training step is built.  On this step (the first
    convolution's bias, then a LeakyReLU whose gradient reads the bias output) the pass fuses
    the convolution, bias and activation although the gradient still needs the bias output,
    fails its own consistency check and prints ``E... remapper failed: INVALID_ARGUMENT:
    Mutation::Apply error: fanout ... exist for missing node ...BiasAdd``; Grappler then keeps
    the graph without the pass's changes.  Off from the start, the step is the same graph and
    nothing is printed.  The previous setting is restored (inference graphs keep the pass)."""
    before = tf.config.optimizer.get_experimental_options().get("remapping", True)
    tf.config.optimizer.set_experimental_options({"remapping": False})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": before})


def _split(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    held = max(1, int(round(n * holdout))) if n > 1 else 0
    return order[held:], order[:held]


def chance_problem(classifier: TrainedClassifier, what: str) -> str | None:
    """``"not enough data to judge: ..."`` when ``classifier``'s held-out accuracy is not above
    chance (1 / classes) by two standard errors of a chance classifier on its held-out images,
    ``sqrt(p (1 - p) / n)``; None when it learned (or when ``n`` was not recorded)."""
    n, chance = classifier.held_out, 1.0 / max(len(classifier.classes), 1)
    if not n or classifier.accuracy > chance + 2 * np.sqrt(chance * (1 - chance) / n):
        return None
    return (f"{NOT_ENOUGH}: the {what} classifier's held-out accuracy {classifier.accuracy:.2f} "
            f"is within chance ({chance:.2f} for {len(classifier.classes)} classes, {n} held-out "
            "images); more real images per class help")


def train_classifier(images, labels, *, backbone: str, width: float = 1.0,
                     epochs: int | None = None, batch_size: int = 64, holdout: float = 0.2,
                     seed: int = 0, name: str = "classifier") -> TrainedClassifier:
    """Train a softmax classifier on ``images``/``labels`` (any label values), Adam 1e-3, for
    ``epochs`` (None: :func:`auto_epochs` of the training images).

    ``holdout`` of the images (random, fixed by ``seed``) is not trained on; the returned
    ``accuracy`` is measured on it.
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels).reshape(-1)
    classes, targets = np.unique(labels, return_inverse=True)
    keras.utils.set_random_seed(seed)
    model, features = build_classifier(backbone, images.shape[1], images.shape[-1], len(classes),
                                       width, name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    train, held = _split(len(images), holdout, seed)
    epochs = auto_epochs(len(train), batch_size) if epochs is None else epochs
    with _without_remapper():
        model.fit(images[train], targets[train], epochs=epochs, batch_size=batch_size,
                  shuffle=True, verbose=0)
    accuracy = float("nan")
    if len(held):
        predicted = np.argmax(_predict(model, images[held], 256), axis=1)
        accuracy = float(np.mean(predicted == targets[held]))
    return TrainedClassifier(model, features, classes, accuracy, trained=True,
                             held_out=len(held), epochs=epochs)


def _paths(cache_dir: Path, name: str) -> tuple[Path, Path]:
    return cache_dir / f"{name}.weights.h5", cache_dir / f"{name}.json"


def save_classifier(classifier: TrainedClassifier, cache_dir, name: str, key: dict) -> Path:
    """Weights and metadata, each written atomically (temp file, then ``os.replace``)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    weights, meta = _paths(cache_dir, name)
    with atomic_path(weights, what="a classifier", suffix=".weights.h5") as tmp:  # Keras wants it
        classifier.model.save_weights(tmp)
    record = {"key": key, "classes": classifier.classes.tolist(), "accuracy": classifier.accuracy,
              "held_out": classifier.held_out, "epochs": classifier.epochs}
    write_json(meta, record, what="classifier metadata")
    return weights


def load_classifier(cache_dir, name: str, key: dict, *, backbone: str, image_size: int,
                    channels: int, width: float) -> TrainedClassifier | None:
    """The cached classifier if it exists and was trained for ``key``, else ``None``."""
    weights, meta = _paths(Path(cache_dir), name)
    if not (weights.is_file() and meta.is_file()):
        return None
    try:
        record = json.loads(meta.read_text())
        if record.get("key") != json.loads(json.dumps(key)):
            return None
        classes = np.asarray(record["classes"])
        model, features = build_classifier(backbone, image_size, channels, len(classes), width, name)
        model.load_weights(weights)
    except (OSError, ValueError, KeyError):
        return None  # unreadable or stale: retrain and overwrite
    return TrainedClassifier(model, features, classes, float(record.get("accuracy", float("nan"))),
                             trained=False, held_out=int(record.get("held_out") or 0),
                             epochs=record.get("epochs"))


def cached_classifier(cache_dir, name: str, key: dict, data_fn, *, backbone: str, image_size: int,
                      channels: int, width: float = 1.0, epochs: int | None = None, seed: int = 0,
                      trainer=None) -> TrainedClassifier:
    """Load ``cache_dir/name`` if trained for ``key``; else train on ``data_fn() -> (images, labels)``
    (``trainer``, default :func:`train_classifier`) and cache it."""
    found = load_classifier(cache_dir, name, key, backbone=backbone, image_size=image_size,
                            channels=channels, width=width)
    if found is not None:
        return found
    images, labels = data_fn()
    classifier = (trainer or train_classifier)(images, labels, backbone=backbone, width=width,
                                               epochs=epochs, seed=seed, name=name)
    save_classifier(classifier, cache_dir, name, key)
    return classifier


def classifier_metrics(generated, seed_labels, real_novel, domain: TrainedClassifier,
                       classes: TrainedClassifier, novel_label=1) -> dict[str, float]:
    """``domain_share`` (generated images the domain classifier calls novel), ``class_accuracy``
    (generated images classified as their seeds' class) and ``fd_clf`` (Fréchet distance of the
    class classifier's penultimate features, generated vs ``real_novel``)."""
    return {
        "domain_share": float(np.mean(domain.predict(generated) == novel_label)),
        "class_accuracy": float(np.mean(classes.predict(generated) == np.asarray(seed_labels))),
        "fd_clf": frechet_distance_from_activations(classes.embed(generated), classes.embed(real_novel)),
    }
