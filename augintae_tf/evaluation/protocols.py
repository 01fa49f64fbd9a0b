"""What ``evaluate`` runs when not told: its protocols (metrics and sizes), the few-shot image
count proportionate to the novel classes, how long its classifiers train, and each metric's
expected cost (the progress line's weights).  TensorFlow-free: the CLI reads the protocols before
TensorFlow loads."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Protocol:
    """What an evaluation runs unless told otherwise: its metrics (the table's names; those the
    model cannot do are left out), the few-shot image count (None: :func:`auto_num_images`) and
    the noise trials per frequency."""

    metrics: tuple[str, ...] | None  # None: the table's defaults
    num_images: int | None
    noise_trials: int
    help: str


# quick, the default (the table's default metrics: recon, interp, quality, samples): in about a
# minute on a small folder (300 images of 64x64 RGB); paper: appendix A.3/A.4/A.6 at the paper's
# sizes (5,000 few-shot images, 1,000 noise trials per frequency: at 64x64x3 the noise curve
# alone took 6-10 minutes on 2 cores) plus the quality table.
PROTOCOLS = {
    "quick": Protocol(None, None, 100,
                      "few-shot quality beside reference rows, reconstruction, interpolations; "
                      "min(2000, distinct few-shot points) images"),
    "paper": Protocol(("fd-clf", "classifier", "recon", "noise", "interp", "utility", "quality",
                       "samples"),
                      5000, 1000, "the appendix's protocol (A.3 classifier metrics, A.4 noise "
                      "curve, A.6 interpolations; 5000 images, 1000 noise trials), utility and "
                      "quality"),
}


def auto_num_images(labels, shots: int, alphas: int = 3, cap: int = 2000) -> int:
    """The quick protocol's few-shot image count: ``min(cap, distinct plan points)``, the points
    being ``alphas`` per unordered seed pair of every class with two or more images.  More rows
    only repeat points (6 classes of 5 seeds have 180), and repeats shrink the generated k-NN
    radii that recall and density read; the cap is compare's and the quality benchmark's plan
    (glyphs' 150 evaluation classes have 4,500 points)."""
    _, counts = np.unique(np.asarray(labels).reshape(-1), return_counts=True)
    k = np.minimum(counts[counts >= 2], shots)
    return int(min(cap, max(1, int(np.sum(k * (k - 1) // 2)) * alphas)))


def resolve_options(options, labels=None):
    """``options`` (an :class:`~augintae_tf.evaluation.options.EvalOptions`) with the protocol's
    ``num_images`` and ``noise_trials`` filled in (``labels``: the novel labels, for
    :func:`auto_num_images`; without them, 2000 images)."""
    protocol = PROTOCOLS[options.protocol]
    num = options.num_images or protocol.num_images
    if num is None:
        num = auto_num_images(labels, options.shots) if labels is not None else 2000
    return dataclasses.replace(options, num_images=num,
                               noise_trials=options.noise_trials or protocol.noise_trials)


MIN_EPOCHS, MIN_STEPS = 10, 60  # auto_epochs


def auto_epochs(train_images: int, batch_size: int = 64) -> int:
    """``max(MIN_EPOCHS, ceil(MIN_STEPS / steps per epoch))``: small sets get more passes."""
    steps = max(1, -(-train_images // batch_size))
    return max(MIN_EPOCHS, -(-MIN_STEPS // steps))



def _training(images: float, o) -> float:
    """A cached classifier's training: forward and backward (2.5 passes) per image-epoch."""
    train = max(1, int(0.8 * images))
    return 2.5 * train * (o.classifier_epochs or auto_epochs(train))


# Measured at 64x64x3 (a 300-image folder, 2 cores): a noise trial costs 2 passes (encode and
# decode); the quality rows 1,500 (5 realism CNNs) plus 13 per few-shot image (features,
# realism, double exposures).
COSTS = {
    "fid": lambda n, size, o: 40.0 * (o.num_images + 2 * n),
    "fd-clf": lambda n, size, o: _training(n, o) + _training(2 * n, o) + 4.0 * o.num_images,
    "classifier": lambda n, size, o: 1.0,  # fd-clf's classifiers and values, reused
    "recon": lambda n, size, o: 4.0 * n,
    "noise": lambda n, size, o: 2.0 * o.noise_trials * size,
    "interp": lambda n, size, o: 100.0,
    "quality": lambda n, size, o: _training(n / 2, o) + 1500.0 + 13.0 * o.num_images,
    "samples": lambda n, size, o: 2.0 * o.num_images,
    # 4 training sets (seeds, + the model's, + augmented, + real) x runs x steps x batch 32
    "utility": lambda n, size, o: (4.0 * o.utility_episodes * o.utility_seeds * o.utility_steps
                                   * 32 * 0.3),
    "generalization": lambda n, size, o: 2000.0 + _training(n, o),
}
