"""The metric table: one row per metric, by name, in the order metrics run and are listed; the
CLI's ``--metrics`` list, help and defaults read it.  TensorFlow-free: a row names its function as
``"module:function"``, imported only when the metric runs.

A metric is ``fn(run, data, options) -> dict`` merged into ``metrics.json``: ``run`` the
:class:`~augintae_tf.inference.loaded.Run`, ``data`` the evaluation's lazily loaded
:class:`~augintae_tf.evaluation.inputs.EvalData`, ``options`` its resolved
:class:`~augintae_tf.evaluation.options.EvalOptions`.  The built-in rows (functions in
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

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from augintae_tf.capabilities import Capability
from augintae_tf.config.model_table import resolve
from augintae_tf.errors import RunError
from augintae_tf.evaluation.protocols import COSTS, PROTOCOLS

MetricFn = Callable[[Any, Any, Any], dict]  # (run, data, options) -> values


@dataclass(frozen=True)
class Metric:
    """One row of the table.  ``fn`` (and ``prepare``) a function or ``"module:function"``.

    ``prepare(options)``, if any, runs before the run is loaded (its result is
    ``data.prepared[name]``): what can fail without the run must fail in seconds.
    """

    name: str
    fn: MetricFn | str
    default: bool = True  # in the default (quick) protocol's metrics
    help: str = ""
    prepare: Callable[[Any], Any] | str | None = None
    needs: frozenset[str] = frozenset()  # model capabilities (any one of them suffices)
    # expected work, in forward passes of one image through the run's model (the progress
    # line's weights): cost(n, size, options), n novel images of size x size pixels
    cost: Callable[[int, int, Any], float] = lambda n, size, o: 1000.0

    def run(self, run, data, options) -> dict:
        return resolve(self.fn)(run, data, options)

    def prepared(self, options) -> Any:
        return resolve(self.prepare)(options)


METRIC_TABLE: dict[str, Metric] = {}


def register_metric(name: str, fn: MetricFn | str, default: bool = True, help: str = "",
                    prepare: Callable[[Any], Any] | str | None = None, needs: Iterable[str] = (),
                    cost: Callable[[int, int, Any], float] | None = None) -> Metric:
    """Add (or replace) metric ``name``; the CLI's ``--metrics`` list and defaults follow.
    ``needs``: model capabilities of which the metric uses at least one (empty: any model); a
    default metric a model cannot do is left out of its defaults, an explicit one refused.
    ``cost``: see :class:`Metric` (default: a constant)."""
    extra = {"cost": cost} if cost is not None else {}
    METRIC_TABLE[name] = Metric(name, fn, default, help, prepare, frozenset(needs), **extra)
    return METRIC_TABLE[name]


_B = "augintae_tf.evaluation.builtin"
# The built-in rows.  Add a metric here (or call register_metric from your module): one line.
register_metric("fid", f"{_B}:fid", default=False, prepare=f"{_B}:load_fid_network",
                help="few-shot and random-sample FID, Inception-v3 (needs its weights)",
                cost=COSTS["fid"])
register_metric("fd-clf", f"{_B}:fd_clf", default=False, needs={Capability.FEWSHOT},
                help="Fréchet distance in a novel-class classifier (A.3)", cost=COSTS["fd-clf"])
register_metric("classifier", f"{_B}:classifier", default=False, needs={Capability.FEWSHOT},
                help="domain share and class accuracy (A.3)", cost=COSTS["classifier"])
register_metric("recon", f"{_B}:recon", help="reconstruction MSE, held-out and novel",
                needs={Capability.LATENT}, cost=COSTS["recon"])
register_metric("noise", f"{_B}:noise", default=False, needs={Capability.LATENT},
                help="noise reconstruction error per frequency (A.4)", cost=COSTS["noise"])
register_metric("interp", f"{_B}:interp", help="pixel fade vs slerp (or few-shot) figure",
                needs={Capability.LATENT, Capability.FEWSHOT}, cost=COSTS["interp"])
register_metric("utility", "augintae_tf.evaluation.utility:utility", default=False,
                needs={Capability.FEWSHOT}, cost=COSTS["utility"],
                help="few-shot classifier accuracy on the novel classes trained on the seeds, + the "
                     "model's images, + augmented copies, + real images; share of the real gain")
register_metric("quality", "augintae_tf.evaluation.quality:quality",
                needs={Capability.FEWSHOT}, cost=COSTS["quality"],
                help="few-shot FD, class acc, precision/recall/density/coverage, seed distance and "
                     "realism beside reference rows (floor, seed copies, pixel cross-fade)")
register_metric("samples", f"{_B}:samples", needs={Capability.SAMPLE}, cost=COSTS["samples"],
                help="Fréchet distance of samples to held-out images (8x8 pixels), with floor")
register_metric("generalization", "augintae_tf.evaluation.generalization:metric",
                default=False, help="reconstruction MSE/FD, held-out vs novel domain (+ figure)",
                cost=COSTS["generalization"])


def metric(name: str) -> Metric:
    """The row of metric ``name`` (the table as it is now: rows registered at runtime too)."""
    return METRIC_TABLE[name]


def metric_names() -> tuple[str, ...]:
    return tuple(METRIC_TABLE)


def default_metrics() -> tuple[str, ...]:
    return tuple(name for name, metric in METRIC_TABLE.items() if metric.default)


def parse_metrics(metrics: str | Iterable[str] | None, protocol: str = "quick") -> tuple[str, ...]:
    """``"fd-clf,recon"`` or a list -> validated names in table order (``None``: the
    ``protocol``'s, :data:`~augintae_tf.evaluation.protocols.PROTOCOLS`)."""
    if protocol not in PROTOCOLS:
        raise RunError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    if metrics is None:
        chosen = PROTOCOLS[protocol].metrics
        return default_metrics() if chosen is None else tuple(
            m for m in metric_names() if m in chosen)
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
