"""Few-shot utility: does a classifier of the novel classes learn more from generated images?

The test DAGAN made the standard (Antoniou et al. 2017, sec. 5): N-way K-shot classification of
the novel classes by a small CNN trained from scratch, tested on real images of those classes that
were never seeds.  Per *episode* (a draw of K seeds per class) and *classifier seed*, one CNN is
trained on each training set, in this order:

* (a) ``seeds``: the K seeds of each class alone;
* (b) one per generator: the seeds plus ``M`` generated images per class (made from those seeds);
* (c) ``seed_augmented``: the seeds plus ``M`` augmented copies of them per class (``augment_fn``);
* (d) ``real``: the seeds plus ``M`` other real images per class -- the ceiling a generator of
  real variety approaches.

``M`` (:func:`episode_split`) is ``extra`` capped at half of the smallest class's non-seed
images; the other non-seed images are the test set.  Every CNN trains ``steps`` Adam steps
(1e-3, batch ``batch_size``, drawn uniformly from its training set) with a fresh random affine
of :data:`STANDARD_AUGMENT` on every batch (:func:`augintae_tf.augment.augment`): the same number
of updates whatever the set's size, so a row differs only in what it trains on.  Images larger
than :data:`MAX_SIZE` are area-resized to it (the CNN stays CPU-cheap).

Summary per set (:func:`summarise`): the mean accuracy over the ``episodes x classifier_seeds``
runs, their standard deviation and a 95 % interval of the mean (``t`` quantile x std / sqrt(n));
per generator the share of the real-image gain it recovers, ``(b - a) / (d - a)`` of the means,
marked ``noisy`` when the real images' own gain ``d - a`` is within noise: its paired mean is not
above two standard errors of the per-run differences.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from augintae_tf.augment import augment
from augintae_tf.config.schema import AugmentConfig
from augintae_tf.metrics.fewshot import sample_seeds
from augintae_tf.metrics.realism import conv_trunk, seeded_init

MAX_SIZE = 32
# half the paper's handwritten-character ranges at 28x28 (translation scaled with the size)
STANDARD_AUGMENT = AugmentConfig(rotation=10.0, translation=2.0, scale_min=0.9, scale_max=1.1,
                                 shear=3.0)
SEEDS, AUGMENTED, REAL = "seeds", "seed_augmented", "real"
# t quantiles (0.975) for a 95 % interval of a mean of n runs (n - 1 degrees of freedom)
_T975 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306,
         10: 2.262, 12: 2.201, 15: 2.145, 20: 2.093, 30: 2.045}

# (seed images [K, H, W, C] of one class, count, seed) -> count images of that class
Generator = Callable[[np.ndarray, int, int], np.ndarray]


@dataclass(frozen=True)
class Episode:
    """Index arrays into the image array: per class its seeds and ``extra`` other real images,
    and the test images (every other image of those classes)."""

    seeds: dict
    extra: dict
    test: np.ndarray
    per_class: int  # M: extra images per class


def episode_split(labels, shots: int, extra: int, seed: int) -> Episode:
    """K seeds per class (:func:`~augintae_tf.metrics.fewshot.sample_seeds` ``(labels, shots,
    seed)``, so episode 0 with the quality plan's seed has the plan's seeds), then per class the
    non-seed images shuffled (stream ``[seed, 41]``): the first ``M`` are the real extras, the
    rest the test set; ``M = min(extra, floor(n_min / 2))``, ``n_min`` the fewest non-seed images
    of any class.  ValueError when a class has fewer than 2 non-seed images."""
    labels = np.asarray(labels).reshape(-1)
    seeds = sample_seeds(labels, shots, seed)
    rng = np.random.default_rng([seed, 41])
    pools = {}
    for cls, chosen in seeds.items():
        members = np.setdiff1d(np.flatnonzero(labels == cls), chosen)
        pools[cls] = rng.permutation(members)
    fewest = min(len(p) for p in pools.values())
    if fewest < 2:
        raise ValueError(f"utility needs at least 2 images per class besides the {shots} seeds "
                         f"(one to add, one to test); a class has {fewest}")
    m = max(1, min(int(extra), fewest // 2))
    test = np.sort(np.concatenate([p[m:] for p in pools.values()]))
    return Episode(seeds, {c: np.sort(p[:m]) for c, p in pools.items()}, test, m)


def build_utility_cnn(shape: tuple[int, ...], classes: int, seed: int = 0) -> keras.Model:
    """conv 16 (3x3, stride 2) -> conv 32 (3x3, stride 2) -> dense 64 -> softmax, ReLUs; every
    initialiser seeded from ``seed``.  Small on purpose: a few seconds of training at 28x28 on a
    shared CPU core, and the same network for every row."""
    init = seeded_init(seed)
    inputs = keras.Input(shape, name="images")
    x = conv_trunk(inputs, init)
    x = keras.layers.Dense(64, activation="relu", kernel_initializer=init(2), name="hidden")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", kernel_initializer=init(3),
                                 name="classes")(x)
    return keras.Model(inputs, outputs, name="utility_cnn")


def _fit_size(images) -> np.ndarray:
    images = np.asarray(images, np.float32)
    if images.shape[1] <= MAX_SIZE:
        return images
    return tf.image.resize(images, (MAX_SIZE, MAX_SIZE), method="area").numpy()


class UtilityTrainer:
    """Trains and tests :func:`build_utility_cnn` classifiers of one image shape and class count.

    One network and one compiled step serve every run: a run loads the initial weights of a
    network built with its seed and the optimizer's initial state (step 0, zero moments), so the step is traced once
    (tracing cost more than the training itself on 2 cores).  Per run, every step's batch is
    drawn (NumPy, stream ``[seed, 43]``) and augmented (``augment_cfg``, stream ``[seed, 43]``)
    up front, then one ``fit`` pass runs them in order: deterministic for a seed."""

    def __init__(self, shape, classes: int, *, steps: int = 300, batch_size: int = 32,
                 augment_cfg: AugmentConfig = STANDARD_AUGMENT):
        self.shape = tuple(_fit_size(np.zeros((1,) + tuple(shape), np.float32)).shape[1:])
        self.classes, self.steps, self.batch_size = classes, steps, batch_size
        self.model = build_utility_cnn(self.shape, classes)
        self.optimizer = keras.optimizers.Adam(1e-3)
        self.model.compile(optimizer=self.optimizer, loss="sparse_categorical_crossentropy")
        self._augment = tf.function(lambda images, seed: augment(images, augment_cfg, seed))
        self.optimizer.build(self.model.trainable_variables)
        self._fresh = [v.numpy() for v in self.optimizer.variables]  # step 0, lr, zero moments

    def _reset(self, seed: int) -> None:
        self.model.set_weights(build_utility_cnn(self.shape, self.classes, seed).get_weights())
        for variable, value in zip(self.optimizer.variables, self._fresh):
            variable.assign(value)

    def accuracy(self, train_images, train_targets, test_images, test_targets, seed: int) -> float:
        """Accuracy on ``test_images`` after ``steps`` Adam steps (1e-3) on ``train_images``
        (targets 0..classes-1), a random affine on every image of every batch."""
        train_images, test_images = _fit_size(train_images), _fit_size(test_images)
        self._reset(seed)
        rng = np.random.default_rng([seed, 43])
        batch = min(self.batch_size, len(train_images))
        pick = rng.integers(0, len(train_images), size=self.steps * batch)
        batches = self._augment(tf.constant(train_images[pick]), tf.constant([seed, 43], tf.int64))
        self.model.fit(batches, np.asarray(train_targets, np.int64)[pick], batch_size=batch,
                       epochs=1, shuffle=False, verbose=0)
        predicted = np.concatenate([
            np.argmax(keras.ops.convert_to_numpy(self.model(test_images[i:i + 512], training=False)), 1)
            for i in range(0, len(test_images), 512)])
        return float(np.mean(predicted == np.asarray(test_targets)))


def _training_sets(images, labels, episode: Episode, generators: Mapping[str, Generator],
                   augment_fn: Callable | None, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{set name: (images, class labels)}`` of one episode, in :func:`fewshot_utility`'s order."""
    seed_idx = np.concatenate(list(episode.seeds.values()))
    base = (images[seed_idx], labels[seed_idx])
    m = episode.per_class

    def with_extra(per_class: Mapping) -> tuple[np.ndarray, np.ndarray]:
        added = [np.asarray(per_class[c], np.float32) for c in episode.seeds]
        added_labels = [np.full(len(a), c, labels.dtype) for a, c in zip(added, episode.seeds)]
        return (np.concatenate([base[0]] + added), np.concatenate([base[1]] + added_labels))

    sets = {SEEDS: base}
    for name, generate in generators.items():
        sets[name] = with_extra({c: generate(images[idx], m, seed * 1000 + position)
                                 for position, (c, idx) in enumerate(episode.seeds.items())})
    if augment_fn is not None:
        sets[AUGMENTED] = with_extra({c: augment_fn(images[np.resize(idx, m)], seed * 1000 + p)
                                      for p, (c, idx) in enumerate(episode.seeds.items())})
    sets[REAL] = with_extra({c: images[idx] for c, idx in episode.extra.items()})
    return sets


def fewshot_utility(images, labels, generators: Mapping[str, Generator] | None = None, *,
                    shots: int = 5, extra: int = 100, episodes: int = 2, classifier_seeds: int = 3,
                    steps: int = 300, batch_size: int = 32, augment_fn: Callable | None = None,
                    augment_cfg: AugmentConfig = STANDARD_AUGMENT, seed: int = 0,
                    progress: Callable[[str], object] | None = None) -> dict:
    """Accuracies of every training set (module doc) over ``episodes`` x ``classifier_seeds``
    (:class:`UtilityTrainer`: ``steps``, ``batch_size``, ``augment_cfg``).

    ``generators``: ``{name: fn(seed images of one class, count, seed) -> images}``;
    ``augment_fn``: ``(images, seed) -> images`` for the augmented copies (None: no (c) row).
    Episode ``e`` draws its seeds with ``seed + e``; classifier seed ``r`` of it initialises and
    augments with ``1000 * seed + 100 * e + r``.

    Returns ``{"rows": {set: summary}, "order": [...], "counts": {...}}`` (:func:`summarise`).
    """
    images = np.asarray(images, np.float32)
    labels = np.asarray(labels).reshape(-1)
    generators = dict(generators or {})
    clash = {SEEDS, AUGMENTED, REAL} & set(generators)
    if clash:
        raise ValueError(f"generator name {sorted(clash)[0]!r} clashes with a reference set")
    runs: dict[str, list[float]] = {}
    tests, per_class, trainer = [], None, None
    for e in range(episodes):
        episode = episode_split(labels, shots, extra, seed + e)
        classes = np.asarray(sorted(episode.seeds))
        sets = _training_sets(images, labels, episode, generators, augment_fn, seed + e)
        test_targets = np.searchsorted(classes, labels[episode.test])
        tests.append(len(episode.test))
        per_class = episode.per_class if per_class is None else min(per_class, episode.per_class)
        if trainer is None:
            trainer = UtilityTrainer(images.shape[1:], len(classes), steps=steps,
                                     batch_size=batch_size, augment_cfg=augment_cfg)
        for name, (train, train_labels) in sets.items():
            for r in range(classifier_seeds):
                if progress:
                    progress(f"utility: episode {e + 1}/{episodes}, {name}, classifier {r + 1}")
                runs.setdefault(name, []).append(trainer.accuracy(
                    train, np.searchsorted(classes, train_labels), images[episode.test],
                    test_targets, seed=1000 * seed + 100 * e + r))
    counts = {"classes": int(len(classes)), "shots": int(shots), "extra_per_class": int(per_class),
              "test_images": int(min(tests)), "test_images_per_episode": tests,
              "episodes": int(episodes), "classifier_seeds": int(classifier_seeds),
              "steps": int(steps), "batch_size": int(batch_size), "seed": int(seed)}
    return {"rows": summarise(runs), "order": list(runs), "counts": counts}


def _interval(values: np.ndarray) -> float | None:
    n = len(values)
    if n < 2:
        return None
    t = _T975.get(n) or next((v for k, v in sorted(_T975.items()) if k >= n), 1.96)
    return float(t * np.std(values, ddof=1) / math.sqrt(n))


def summarise(runs: Mapping[str, list]) -> dict:
    """Per set: ``mean``, ``std`` (ddof 1), ``ci95`` (half-width), ``runs``; per generator also
    ``share`` = (b - a) / (d - a) of the means (None without both references or when d == a)
    and ``noisy``: True when d - a is not above 2 standard errors of the paired differences."""
    rows = {}
    for name, values in runs.items():
        v = np.asarray(values, np.float64)
        rows[name] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else None,
                      "ci95": _interval(v), "runs": [float(x) for x in v]}
    if SEEDS not in rows or REAL not in rows:
        return rows
    a, d = rows[SEEDS]["mean"], rows[REAL]["mean"]
    gain = np.asarray(runs[REAL], np.float64) - np.asarray(runs[SEEDS], np.float64)
    se = float(gain.std(ddof=1) / math.sqrt(len(gain))) if len(gain) > 1 else float("inf")
    noisy = not (d - a) > 2 * se
    for name, row in rows.items():
        if name != SEEDS:
            row["share"] = (row["mean"] - a) / (d - a) if d != a else None
            row["noisy"] = noisy
    return rows


TITLES = {SEEDS: "(a) the seeds alone", AUGMENTED: "(c) seeds + augmented copies of the seeds",
          REAL: "(d) seeds + other real images (the ceiling)"}


def row_title(name: str) -> str:
    return TITLES.get(name, f"(b) seeds + {name}")


def utility_table(result: dict) -> str:
    """Markdown: a counts line, then one row per training set in (a), (b)..., (c), (d) order:
    mean accuracy +- std, the 95 % interval and the share of the real-image gain."""
    counts, rows = result["counts"], result["rows"]
    runs = counts["episodes"] * counts["classifier_seeds"]
    lines = [f"utility: {counts['classes']}-way {counts['shots']}-shot classification by a small "
             f"CNN trained from scratch ({counts['steps']} steps, random affine), tested on "
             f"{counts['test_images']} real images that were never seeds; {counts['episodes']} "
             f"episodes x {counts['classifier_seeds']} classifier seeds = {runs} runs; "
             f"{counts['extra_per_class']} added images per class; share = (b - a) / (d - a)", "",
             "| training set | accuracy (mean +- std) | 95 % interval | share of real gain |",
             "|---|---|---|---|"]
    for name in result["order"]:
        row = rows[name]
        std = "" if row["std"] is None else f" +- {row['std']:.3f}"
        ci = "-" if row["ci95"] is None else f"+- {row['ci95']:.3f}"
        lines.append(f"| {row_title(name)} | {row['mean']:.3f}{std} | {ci} | {share_text(row)} |")
    if any(row.get("noisy") for row in rows.values()):
        lines += ["", "* the real images' own gain (d - a) is within noise: shares mean little"]
    return "\n".join(lines) + "\n"


def share_text(row: dict) -> str:
    """``"0.42"``, ``"0.42*"`` (d - a within noise) or ``"-"``."""
    share = row.get("share")
    if share is None:
        return "-"
    return f"{share:.2f}" + ("*" if row.get("noisy") else "")
