"""What an evaluation or a comparison can be asked, with the defaults the CLI shows, the protocol's
values filled in, and the check of the double-exposure options; TensorFlow-free (the CLI reads
them before TensorFlow).  Besides its own fields an options object holds the options the metrics
declare in their rows (:func:`~augintae_tf.evaluation.table.declared_options`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from augintae_tf.config.model_table import resolve
from augintae_tf.errors import RunError
from augintae_tf.evaluation.protocols import PROTOCOLS, auto_num_images
from augintae_tf.evaluation.table import declared_options


def _with_metric_options(cls):
    """``cls(**options)`` also takes the metrics' declared options by name, kept in
    ``metric_options`` (so ``dataclasses.replace(o, noise_trials=3)`` works too); another
    name is a TypeError."""
    init, own = cls.__init__, {f.name for f in dataclasses.fields(cls)}

    def __init__(self, **options):
        given = dict(options.pop("metric_options", None) or {})
        given.update({k: options.pop(k) for k in list(options) if k not in own})
        unknown = sorted(set(given) - set(declared_options()))
        if unknown:
            raise TypeError(f"{cls.__name__} got unknown options {', '.join(unknown)}")
        init(self, **options, metric_options=given)

    cls.__init__ = __init__
    return cls


@_with_metric_options
@dataclass(frozen=True)
class EvalOptions:
    """Everything an evaluation can be asked (the CLI's options; see ``evaluate``).  ``None``
    for ``num_images``: the protocol's; for ``classifier_epochs``: each classifier's
    :func:`~augintae_tf.evaluation.protocols.auto_epochs`.  ``options.NAME`` of a metric's
    declared option reads ``metric_options``, else the option's default."""

    shots: int = 5  # K seeds per novel class
    num_images: int | None = None  # N few-shot images
    dataset: str | None = None  # the novel domain (default: the run's)
    split: str | None = None
    held_out: str | None = None  # held-out training-domain images (default: the run's)
    classifier_epochs: int | None = None
    classifier_limit: int | None = 10_000
    data_limit: int | None = None  # at most this many images per split (default: whole splits)
    seed: int = 0
    protocol: str = "quick"  # augintae_tf.evaluation.protocols.PROTOCOLS
    sampler: str | None = None  # few-shot sampler of the quality rows (default: the run's)
    scale: float | None = None  # its noise scale (default: the run's model.sampler_scale)
    metric_options: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __getattr__(self, name: str):  # only for names that are not attributes
        option = declared_options().get(name) if name != "metric_options" else None
        if option is None:
            raise AttributeError(f"{type(self).__name__} has no option {name!r}")
        return self.metric_options.get(name, option.default)

    def as_dict(self) -> dict[str, Any]:
        """Every option by name: the fields, then every declared metric option's value."""
        own = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "metric_options"}
        return {**own, **{name: getattr(self, name) for name in declared_options()}}


@_with_metric_options
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
# (CompareOptions) and the CLI's `evaluate` / `compare` options all read these (and the
# metrics' rows, augintae_tf.evaluation.table).
EVAL_DEFAULTS = EvalOptions()
COMPARE_DEFAULTS = CompareOptions()


def options_of(cls: type[EvalOptions], options: dict[str, Any], caller: str) -> EvalOptions:
    """``cls(**options)``; an option it does not have is a TypeError naming ``caller``."""
    known = {f.name for f in dataclasses.fields(cls)} | set(declared_options())
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"{caller}() got unknown options {', '.join(unknown)}")
    return cls(**options)


def resolve_options(options: EvalOptions, labels=None) -> EvalOptions:
    """``options`` with the protocol's ``num_images`` and the protocol's value of every declared
    option left None (``by_protocol``) filled in (``labels``: the novel labels, for
    :func:`~augintae_tf.evaluation.protocols.auto_num_images`; without them, 2000 images)."""
    protocol = options.protocol
    num = options.num_images or PROTOCOLS[protocol].num_images
    if num is None:
        num = auto_num_images(labels, options.shots) if labels is not None else 2000
    filled = {name: option.by_protocol[protocol] for name, option in declared_options().items()
              if getattr(options, name) is None and protocol in option.by_protocol}
    return dataclasses.replace(options, num_images=num, **filled)


MAX_DOUBLE_EXPOSURE_SHIFT = 4  # the test's cost grows as (2 shift + 1)^4


def check_metric_options(values: Mapping[str, Any]) -> None:
    """Each given value of a declared metric option through that option's ``check`` (a RunError
    naming the CLI option); TensorFlow-free, so the CLI fails in a moment."""
    for name, option in declared_options().items():
        if option.check is not None and name in values:
            resolve(option.check)(values[name])


def check_double_exposure_ratio(ratio) -> None:
    """RunError unless ``0 < ratio <= 1``."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise RunError(f"--double-exposure-ratio must be a number in (0, 1], got {ratio!r}")


def check_double_exposure_shift(shift) -> None:
    """RunError unless ``shift`` is an integer in ``0..MAX_DOUBLE_EXPOSURE_SHIFT``."""
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift <= MAX_DOUBLE_EXPOSURE_SHIFT:
        raise RunError(f"--double-exposure-shift must be an integer from 0 to {MAX_DOUBLE_EXPOSURE_SHIFT} "
                       f"(pixels), got {shift!r}")


def check_double_exposure(ratio, shift) -> None:
    """RunError (one line, naming the CLI option) unless ``0 < ratio <= 1`` and ``shift`` is an
    integer in ``0..MAX_DOUBLE_EXPOSURE_SHIFT``."""
    check_double_exposure_ratio(ratio)
    check_double_exposure_shift(shift)
