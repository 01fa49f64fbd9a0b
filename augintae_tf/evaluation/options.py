"""What an evaluation or a comparison can be asked, with the defaults the CLI shows, and the
check of the double-exposure options; TensorFlow-free (the CLI reads them before TensorFlow)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from augintae_tf.errors import RunError
from augintae_tf.metrics.double_exposure import DEFAULT_RATIO, DEFAULT_SHIFT


@dataclass(frozen=True)
class EvalOptions:
    """Everything an evaluation can be asked (the CLI's options; see ``evaluate``).  ``None``
    for ``num_images`` / ``noise_trials``: the protocol's; for ``classifier_epochs``: each
    classifier's :func:`~augintae_tf.evaluation.protocols.auto_epochs`."""

    shots: int = 5  # K seeds per novel class
    num_images: int | None = None  # N few-shot images
    fid_network: str | os.PathLike | None = None
    dataset: str | None = None  # the novel domain (default: the run's)
    split: str | None = None
    held_out: str | None = None  # held-out training-domain images (default: the run's)
    noise_trials: int | None = None
    classifier_epochs: int | None = None
    classifier_limit: int | None = 10_000
    data_limit: int | None = None  # at most this many images per split (default: whole splits)
    seed: int = 0
    # quality: flagged when a two-seed blend has < ratio x the error; shifts (px) the seeds may
    # take in that test (metrics/double_exposure.py)
    double_exposure_ratio: float = DEFAULT_RATIO
    double_exposure_shift: int = DEFAULT_SHIFT
    protocol: str = "quick"  # augintae_tf.evaluation.protocols.PROTOCOLS
    sampler: str | None = None  # few-shot sampler of the quality rows (default: the run's)
    scale: float | None = None  # its noise scale (default: the run's model.sampler_scale)
    # utility (augintae_tf.metrics.utility): classifier seeds and episodes (seed draws) per
    # training set, images added per class (capped at half the non-seed images), Adam steps
    utility_seeds: int = 3
    utility_episodes: int = 2
    utility_extra: int = 100
    utility_steps: int = 300


@dataclass(frozen=True)
class CompareOptions(EvalOptions):
    """What ``compare`` can be asked: the evaluation's options (``dataset`` / ``split``: the novel
    domain, default the runs'), a larger shared plan, the samplers of the quality rows (one row
    per run and sampler its model has; () each run's own) and whether to score them at all."""

    num_images: int | None = 2000  # few-shot images per run on its one shared plan
    samplers: tuple[str, ...] = ()
    quality: bool = True
    utility: bool = False  # the utility columns in the quality table (a few minutes on 2 cores)


# The one statement of the evaluation defaults: evaluate() (EvalOptions), compare()
# (CompareOptions) and the CLI's `evaluate` / `compare` options all read these.
EVAL_DEFAULTS = EvalOptions()
COMPARE_DEFAULTS = CompareOptions()


def options_of(cls: type[EvalOptions], options: dict[str, Any], caller: str) -> EvalOptions:
    """``cls(**options)``; an option it does not have is a TypeError naming ``caller``."""
    unknown = sorted(set(options) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise TypeError(f"{caller}() got unknown options {', '.join(unknown)}")
    return cls(**options)


MAX_DOUBLE_EXPOSURE_SHIFT = 4  # the test's cost grows as (2 shift + 1)^4


def check_double_exposure(ratio, shift) -> None:
    """RunError (one line, naming the CLI option) unless ``0 < ratio <= 1`` and ``shift`` is an
    integer in ``0..MAX_DOUBLE_EXPOSURE_SHIFT``; TensorFlow-free, so the CLI fails in a moment."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise RunError(f"--double-exposure-ratio must be a number in (0, 1], got {ratio!r}")
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift <= MAX_DOUBLE_EXPOSURE_SHIFT:
        raise RunError(f"--double-exposure-shift must be an integer from 0 to {MAX_DOUBLE_EXPOSURE_SHIFT} "
                       f"(pixels), got {shift!r}")
