"""What ``evaluate`` runs when not told: its protocols (names, sizes and help; each metric says
in its row of :mod:`augintae_tf.evaluation.table` which protocols run it), the few-shot image
count proportionate to the novel classes, how long its classifiers train and what that costs
(the progress line's weights).  TensorFlow-free: the CLI reads the protocols before TensorFlow
loads."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Protocol:
    """What an evaluation runs unless told otherwise: the few-shot image count (None:
    :func:`auto_num_images`); its metrics are those whose row names it, and an option's value
    under it is the option's ``by_protocol`` (:class:`~augintae_tf.evaluation.table.Option`)."""

    num_images: int | None
    help: str


# quick, the default (recon, interp, quality, samples): in about a minute on a small folder (300
# images of 64x64 RGB); paper: appendix A.3/A.4/A.6 at the paper's sizes (5,000 few-shot images,
# 1,000 noise trials per frequency: at 64x64x3 the noise curve alone took 6-10 minutes on 2
# cores) plus the quality table.
PROTOCOLS = {
    "quick": Protocol(None, "few-shot quality beside reference rows, reconstruction, "
                            "interpolations; min(2000, distinct few-shot points) images"),
    "paper": Protocol(5000, "the appendix's protocol (A.3 classifier metrics, A.4 noise "
                            "curve, A.6 interpolations; 5000 images, 1000 noise trials), utility "
                            "and quality"),
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


MIN_EPOCHS, MIN_STEPS = 10, 60  # auto_epochs


def auto_epochs(train_images: int, batch_size: int = 64) -> int:
    """``max(MIN_EPOCHS, ceil(MIN_STEPS / steps per epoch))``: small sets get more passes."""
    steps = max(1, -(-train_images // batch_size))
    return max(MIN_EPOCHS, -(-MIN_STEPS // steps))


def training_cost(images: float, options) -> float:
    """A cached classifier's training, in forward passes of one image: forward and backward (2.5
    passes) per image-epoch, on 80 % of ``images`` (``options.classifier_epochs`` epochs, default
    :func:`auto_epochs`)."""
    train = max(1, int(0.8 * images))
    return 2.5 * train * (options.classifier_epochs or auto_epochs(train))
