"""The layout of a run directory: the one place its file and folder names are spelled.

Layout of ``RUN/``::

    config.yaml     the resolved config (written atomically at the start of training)
    .lock           holds the PID of the process training it (an OS lock: see RunLock)
    metrics.jsonl   one JSON line per epoch, plus one per evaluation (line-atomic appends)
    checkpoints/    epoch-NNNNN/ (see augintae_tf.run.checkpoints), .tmp-epoch-* while writing,
                    .old-epoch-* while removing
    samples/        epoch-NNN.png grids, losses.png and a model's extra plots
    logs/           TensorBoard
    eval/           `augintae-tf evaluate` results (metrics.json, classifiers/ cache)
    <stage>/        what a post-training stage keeps, in the checkpoint format (latent-stats/,
                    wgan-gp's inversion/: augintae_tf.run.artifacts)

Only regular files and folders: a symbolic link anywhere under the run is refused, never
followed (augintae_tf.atomic: check_tree, safe_dir).

Everything that reads or writes a run asks a :class:`RunLayout` for the path; nothing else spells
these names, so renaming one is a change here. Imports nothing but the standard library.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

CONFIG = "config.yaml"
LOCK = ".lock"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
LOGS = "logs"
EVAL = "eval"
LOSSES_PLOT = "losses.png"
EVAL_METRICS = "metrics.json"
CLASSIFIERS = "classifiers"
SAMPLE_GRID = re.compile(r"^epoch-(\d{3,})\.png$")  # samples/epoch-NNN.png: the grid after epoch NNN


@dataclass(frozen=True)
class RunLayout:
    """Every path of one run directory ``root`` (nothing is created or checked here)."""

    root: Path

    def __init__(self, root: str | os.PathLike) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    @property
    def samples(self) -> Path:
        return self.root / SAMPLES

    @property
    def logs(self) -> Path:
        return self.root / LOGS

    @property
    def eval(self) -> Path:
        return self.root / EVAL

    def sample_grid(self, epoch: int) -> Path:
        """``samples/epoch-NNN.png``: the sample grid drawn after (1-based) ``epoch``."""
        return self.samples / f"epoch-{epoch:03d}.png"

    def plot(self, name: str = LOSSES_PLOT) -> Path:
        """A plot of the metrics log (``samples/losses.png`` or a model's extra plot)."""
        return self.samples / name

    @property
    def eval_metrics(self) -> Path:
        """``eval/metrics.json``, the last `augintae-tf evaluate` summary."""
        return self.eval / EVAL_METRICS

    @property
    def classifiers(self) -> Path:
        """``eval/classifiers/``: the evaluation classifiers cached per run."""
        return self.eval / CLASSIFIERS

    def stage(self, name: str) -> Path:
        """The folder of post-training stage ``name`` (named after the stage)."""
        return self.root / name

    def temporary_homes(self) -> tuple[Path, ...]:
        """Folders where an atomic write may leave a ``.*.tmp*`` file when killed."""
        return (self.root, self.samples, self.checkpoints)
