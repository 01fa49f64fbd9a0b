"""The metric table, the one place a metric is declared: a row per metric, by name, in the order
metrics run and are listed.  A row declares everything the rest of ``evaluate`` / ``compare``
reads about the metric: its function, help line, the model capabilities it needs, the protocols
whose default list it is in, its expected cost and its options.  The CLI's ``--metrics`` list,
help and defaults, the metrics' own ``--OPTION``s of ``evaluate`` and ``compare``, each
protocol's metric list and the progress line's weights are generated from the rows.
TensorFlow-free: a row names its function as ``"module:function"``, imported only when the
metric runs.

A metric is ``fn(run, data, options) -> dict`` merged into ``metrics.json``: ``run`` the
:class:`~augintae_tf.inference.loaded.Run`, ``data`` the evaluation's lazily loaded
:class:`~augintae_tf.evaluation.inputs.EvalData`, ``options`` its resolved
:class:`~augintae_tf.evaluation.options.EvalOptions` (``options.NAME`` reads a declared
:class:`Option`).  Add one with :func:`register_metric`, a call or a decorator on the function;
a package outside this one registers its metrics from a module named under the entry-point group
:data:`ENTRY_POINTS`, loaded with this table.  The built-in rows (functions in
:mod:`augintae_tf.evaluation.builtin` unless named otherwise):

* ``fid``: few-shot FID (K seeds per novel class, slerp paths, N images vs the real novel images)
  and random-sample FID (Gaussian fitted to encoded training images vs the training-domain test
  split), with Inception-v3 -- needs its weights; checked first so a missing network fails fast.
* ``fd-clf``: Fréchet distance in the penultimate features of a classifier trained on the novel
  classes (:mod:`augintae_tf.evaluation.classifiers`) -- offline.
* ``classifier``: ``domain_share`` (few-shot images judged novel-domain by a training-vs-novel
  domain classifier) and ``class_accuracy`` (few-shot images classified as their seeds' class).
* ``recon``: reconstruction MSE per pixel on training-domain test and on novel images.
* ``noise``: reconstruction error of uniform noise per frequency (``noise.png``).
* ``interp``: pixel fade and slerp rows for 8 same-class novel pairs (``interpolations.png``).
* ``utility``: accuracy of a small few-shot classifier of the novel classes trained on the seeds,
  the seeds + the model's images, + augmented copies, + other real images, and the share of the
  real images' gain the model's images recover (:mod:`augintae_tf.evaluation.utility`); run
  before ``quality``, whose table then shows it.
* ``quality``: the few-shot images beside the reference rows (floor, seed copies, pixel
  cross-fade) on the same plan (:mod:`augintae_tf.evaluation.quality`).
* ``samples``: Fréchet distance of a sampling model's images to held-out ones, with its floor.
* ``generalization``: reconstruction errors, held-out vs novel domain
  (:mod:`augintae_tf.evaluation.generalization`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Iterable, Mapping, Sequence

from augintae_tf.capabilities import Capability
from augintae_tf.config.model_table import resolve
from augintae_tf.errors import RunError
from augintae_tf.evaluation.protocols import PROTOCOLS, training_cost
from augintae_tf.metrics.double_exposure import DEFAULT_RATIO, DEFAULT_SHIFT

MetricFn = Callable[[Any, Any, Any], dict]  # (run, data, options) -> values
ENTRY_POINTS = "augintae_tf.metrics"  # entry-point group of modules that register metrics
COMMANDS = ("evaluate", "compare")
OPTION_TYPES = ("int", "float", "text", "path")


@dataclass(frozen=True)
class Option:
    """An option a metric declares: ``options.NAME`` in its function and cost, ``--NAME`` (dashes
    for underscores) of ``evaluate`` and of the other ``commands``, a keyword of
    :func:`~augintae_tf.evaluation.evaluate_run.evaluate` / ``compare``.  ``type``: one of
    :data:`OPTION_TYPES`, ``low``/``high`` its range (checked by the CLI); ``by_protocol``:
    the value when not given (``default`` None), per protocol; ``check(value)``, if any (a function
    or ``"module:function"``, TensorFlow-free), raises a one-line RunError for a bad value."""

    name: str
    default: Any = None
    type: str = "int"
    help: str = ""
    low: float | None = None
    high: float | None = None
    commands: tuple[str, ...] = ("evaluate",)
    by_protocol: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[Any], None] | str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Metric:
    """One row of the table.  ``fn`` (and ``prepare``) a function or ``"module:function"``.

    ``prepare(options)``, if any, runs before the run is loaded (its result is
    ``data.prepared[name]``): what can fail without the run must fail in seconds.
    """

    name: str
    fn: MetricFn | str
    help: str = ""
    prepare: Callable[[Any], Any] | str | None = None
    needs: frozenset[str] = frozenset()  # model capabilities (any one of them suffices)
    protocols: frozenset[str] = frozenset()  # protocols whose default metrics include it
    # expected work, in forward passes of one image through the run's model (the progress
    # line's weights): cost(n, size, options), n novel images of size x size pixels
    cost: Callable[[int, int, Any], float] = lambda n, size, o: 1000.0
    options: tuple[Option, ...] = ()

    def run(self, run, data, options) -> dict:
        return resolve(self.fn)(run, data, options)

    def prepared(self, options) -> Any:
        return resolve(self.prepare)(options)


METRIC_TABLE: dict[str, Metric] = {}


def register_metric(name: str, fn: MetricFn | str | None = None, *, help: str = "",
                    prepare: Callable[[Any], Any] | str | None = None, needs: Iterable[str] = (),
                    protocols: Iterable[str] = (),
                    cost: Callable[[int, int, Any], float] | None = None,
                    options: Sequence[Option] = ()):
    """Add (or replace) metric ``name``, a row of :data:`METRIC_TABLE`; returns its
    :class:`Metric`, or, without ``fn``, a decorator that registers the function it decorates
    and returns it unchanged.  ``needs``: model capabilities of which the metric uses at least one
    (empty: any model); a default metric a model cannot do is left out of its defaults, an
    explicit one refused.  ``protocols``: those of :data:`~augintae_tf.evaluation.protocols.PROTOCOLS`
    that run it unless ``--metrics`` says otherwise (none: only when asked).  ``cost``: see
    :class:`Metric` (default: a constant).  ``options``: its :class:`Option` list, each name
    declared by one metric only and not one of the evaluation's own options."""
    if fn is None:
        def decorate(function: MetricFn) -> MetricFn:
            register_metric(name, function, help=help, prepare=prepare, needs=needs,
                            protocols=protocols, cost=cost, options=options)
            return function
        return decorate
    _check_row(name, protocols, options)
    extra = {"cost": cost} if cost is not None else {}
    METRIC_TABLE[name] = Metric(name, fn, help, prepare, frozenset(needs), frozenset(protocols),
                                options=tuple(options), **extra)
    return METRIC_TABLE[name]


def _check_row(name: str, protocols: Iterable[str], options: Sequence[Option]) -> None:
    """ValueError for a protocol, command or option type that does not exist, or an option
    another metric declares."""
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ValueError(f"metric {name}: unknown protocol(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(PROTOCOLS)}")
    taken = {o.name: m.name for m in METRIC_TABLE.values() if m.name != name for o in m.options}
    for option in options:
        if option.name in taken:
            raise ValueError(f"metric {name}: option {option.name} is metric {taken[option.name]}'s")
        if option.type not in OPTION_TYPES or not set(option.commands) <= set(COMMANDS):
            raise ValueError(f"metric {name}: option {option.name} needs a type in "
                             f"{OPTION_TYPES} and commands in {COMMANDS}")


_B, _O = "augintae_tf.evaluation.builtin", "augintae_tf.evaluation.options"
# The built-in rows.  Costs were measured at 64x64x3 (a 300-image folder, 2 cores): a noise
# trial costs 2 passes (encode and decode); the quality rows 1,500 (5 realism CNNs) plus 13 per
# few-shot image (features, realism, double exposures).
register_metric("fid", f"{_B}:fid", prepare=f"{_B}:load_fid_network",
                help="few-shot and random-sample FID, Inception-v3 (needs its weights)",
                cost=lambda n, size, o: 40.0 * (o.num_images + 2 * n),
                options=[Option("fid_network", type="path", help=(
                    "Inception-v3 notop .h5 weights or TF-GAN inception SavedModel "
                    "directory."))])
register_metric("fd-clf", f"{_B}:fd_clf", needs={Capability.FEWSHOT}, protocols={"paper"},
                help="Fréchet distance in a novel-class classifier (A.3)",
                cost=lambda n, size, o: (training_cost(n, o) + training_cost(2 * n, o)
                                         + 4.0 * o.num_images))
register_metric("classifier", f"{_B}:classifier", needs={Capability.FEWSHOT},
                protocols={"paper"}, help="domain share and class accuracy (A.3)",
                cost=lambda n, size, o: 1.0)  # fd-clf's classifiers and values, reused
register_metric("recon", f"{_B}:recon", help="reconstruction MSE, held-out and novel",
                needs={Capability.LATENT}, protocols={"quick", "paper"},
                cost=lambda n, size, o: 4.0 * n)
register_metric("noise", f"{_B}:noise", needs={Capability.LATENT}, protocols={"paper"},
                help="noise reconstruction error per frequency (A.4)",
                cost=lambda n, size, o: 2.0 * o.noise_trials * size,
                options=[Option("noise_trials", low=1, by_protocol={"quick": 100, "paper": 1000},
                                help="Noise images per frequency (default: the protocol's, "
                                     "quick 100, paper 1000).")])
register_metric("interp", f"{_B}:interp", help="pixel fade vs slerp (or few-shot) figure",
                needs={Capability.LATENT, Capability.FEWSHOT}, protocols={"quick", "paper"},
                cost=lambda n, size, o: 100.0)
register_metric(
    "utility", "augintae_tf.evaluation.utility:utility", needs={Capability.FEWSHOT},
    protocols={"paper"},
    # 4 training sets (seeds, + the model's, + augmented, + real) x runs x steps x batch 32
    cost=lambda n, size, o: (4.0 * o.utility_episodes * o.utility_seeds * o.utility_steps
                             * 32 * 0.3),
    help="few-shot classifier accuracy on the novel classes trained on the seeds, + the "
         "model's images, + augmented copies, + real images; share of the real gain",
    options=[Option("utility_seeds", 3, low=1, commands=COMMANDS,
                    help="Utility: classifier seeds per episode and training set."),
             Option("utility_episodes", 2, low=1, commands=COMMANDS,
                    help="Utility: draws of the seeds (episodes)."),
             Option("utility_extra", 100, low=1, commands=COMMANDS,
                    help="Utility: generated / augmented / real images added per class (at most "
                         "half of a class's non-seed images; the rest are the test set)."),
             Option("utility_steps", 300, low=1, commands=COMMANDS,
                    help="Utility: Adam steps of each few-shot classifier (batch 32).")])
register_metric(
    "quality", "augintae_tf.evaluation.quality:quality", needs={Capability.FEWSHOT},
    protocols={"quick", "paper"},
    cost=lambda n, size, o: training_cost(n / 2, o) + 1500.0 + 13.0 * o.num_images,
    help="few-shot FD, class acc, precision/recall/density/coverage, seed distance and "
         "realism beside reference rows (floor, seed copies, pixel cross-fade)",
    options=[Option("double_exposure_ratio", DEFAULT_RATIO, type="float", commands=COMMANDS,
                    check=f"{_O}:check_double_exposure_ratio",
                    help="Quality: an image is a double exposure when a blend of two of its "
                         "class's seeds fits it with under RATIO x the error of the best single "
                         "seed; in (0, 1]."),
             Option("double_exposure_shift", DEFAULT_SHIFT, commands=COMMANDS,
                    check=f"{_O}:check_double_exposure_shift",
                    help="Quality: the seeds may shift up to this many pixels in that test "
                         "(0 to 4).")])
register_metric("samples", f"{_B}:samples", needs={Capability.SAMPLE},
                protocols={"quick", "paper"}, cost=lambda n, size, o: 2.0 * o.num_images,
                help="Fréchet distance of samples to held-out images (8x8 pixels), with floor")
register_metric("generalization", "augintae_tf.evaluation.generalization:metric",
                help="reconstruction MSE/FD, held-out vs novel domain (+ figure)",
                cost=lambda n, size, o: 2000.0 + training_cost(n, o))


def load_registered_metrics() -> None:
    """Import every module named under the entry-point group :data:`ENTRY_POINTS` (an installed
    package's metrics): each registers its rows when imported."""
    for point in entry_points(group=ENTRY_POINTS):
        point.load()


def metric(name: str) -> Metric:
    """The row of metric ``name`` (the table as it is now: rows registered at runtime too)."""
    return METRIC_TABLE[name]


def metric_names() -> tuple[str, ...]:
    return tuple(METRIC_TABLE)


def protocol_metrics(protocol: str) -> tuple[str, ...]:
    """The metrics ``protocol`` runs unless told (those the model cannot do are left out later)."""
    return tuple(name for name, row in METRIC_TABLE.items() if protocol in row.protocols)


def default_metrics() -> tuple[str, ...]:
    return protocol_metrics("quick")


def declared_options(command: str | None = None) -> dict[str, Option]:
    """``{name: Option}`` of every metric's options (of ``command``'s only, if given), in table
    order."""
    return {o.name: o for row in METRIC_TABLE.values() for o in row.options
            if command is None or command in o.commands}


def parse_metrics(metrics: str | Iterable[str] | None, protocol: str = "quick") -> tuple[str, ...]:
    """``"fd-clf,recon"`` or a list -> validated names in table order (``None``: the
    ``protocol``'s, :func:`protocol_metrics`)."""
    if protocol not in PROTOCOLS:
        raise RunError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if metrics is None:
        return protocol_metrics(protocol)
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = [n.strip().lower() for n in names if n and n.strip()]
    if "all" in names:
        names = [n for n in names if n != "all"] + list(metric_names())
    unknown = sorted(set(names) - set(metric_names()))
    if unknown:
        raise RunError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(metric_names())}")
    if not names:
        raise RunError(f"no metrics requested; choose from {', '.join(metric_names())}")
    return tuple(m for m in metric_names() if m in names)


def metrics_for(model, names: Sequence[str], explicit: bool) -> tuple[str, ...]:
    """``names`` the model can do; an explicitly requested one it cannot do is a RunError."""
    def can(name):
        needs = METRIC_TABLE[name].needs
        return not needs or any(model.has(c) for c in needs)

    refused = [n for n in names if not can(n)]
    if refused and explicit:
        raise RunError(f"metric(s) {', '.join(refused)} need a capability model {model.name} lacks "
                       f"(it has: {', '.join(sorted(model.capabilities)) or 'none'})")
    kept = tuple(n for n in names if can(n))
    if not kept:
        raise RunError(f"none of the metrics {', '.join(names)} applies to model {model.name}")
    return kept


load_registered_metrics()  # after the built-in rows: a package's row may replace one
