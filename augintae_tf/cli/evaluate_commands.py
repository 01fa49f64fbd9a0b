"""`augintae-tf evaluate` and `augintae-tf compare`."""
from __future__ import annotations

import os

import click

from augintae_tf.cli.common import friendly_errors
from augintae_tf.config.choices import SAMPLER_SCALE, SAMPLERS
from augintae_tf.evaluation.options import COMPARE_DEFAULTS, check_metric_options
from augintae_tf.evaluation.options import EVAL_DEFAULTS as DEFAULTS
from augintae_tf.evaluation.protocols import PROTOCOLS
from augintae_tf.evaluation.table import (METRIC_TABLE, declared_options, parse_metrics,
                                          protocol_metrics)


def classifier_options(which: str):
    """``--classifier-epochs`` and ``--classifier-limit`` for ``which`` (the classifiers a command
    trains), shared by ``evaluate`` and ``compare``."""
    def decorate(command):
        command = click.option(
            "--classifier-limit", type=click.IntRange(2), default=DEFAULTS.classifier_limit,
            show_default=True,
            help=f"At most this many real images per domain to train {which} on.")(command)
        return click.option(
            "--classifier-epochs", type=click.IntRange(1), default=DEFAULTS.classifier_epochs,
            help=f"Epochs of {which} (default: at least 10 and at least 60 optimizer "
                 "steps).")(command)
    return decorate


def metric_options(command: str):
    """The click options of the options the metrics declare for ``command`` (``evaluate`` or
    ``compare``; :func:`~augintae_tf.evaluation.table.declared_options`), in table order."""
    def click_type(option):
        if option.type == "path":
            return click.Path()
        kind = {"int": click.IntRange, "float": click.FloatRange}.get(option.type)
        if kind is None or (option.low is None and option.high is None):
            return {"int": int, "float": float}.get(option.type, str)
        return kind(option.low, option.high)

    def decorate(fn):
        for option in reversed(declared_options(command).values()):
            fn = click.option(option.flag, option.name, type=click_type(option),
                              default=option.default, show_default=option.default is not None,
                              help=option.help)(fn)
        return fn
    return decorate


def metrics_epilog() -> str:
    """The metrics ``--metrics`` takes, one per line (click keeps a ``\\b`` paragraph as is)."""
    import textwrap

    width = max(map(len, METRIC_TABLE))
    lines = ["\b", "Metrics (--metrics NAME,NAME,... or all):"]
    for metric in METRIC_TABLE.values():
        first, *more = textwrap.wrap(metric.help, 74 - width)
        lines += [f"  {metric.name.ljust(width)}  {first}"] + [" " * (width + 4) + m for m in more]
    return "\n".join(lines)


@click.command("evaluate", short_help="Score a run: few-shot quality, FD-clf, recon, noise.",
               epilog=metrics_epilog())
@click.option("--run-dir", type=click.Path(exists=True, file_okay=False), required=True,
              help="A directory written by `augintae-tf train`.")
@click.option("--novel", "--dataset", "dataset", default=None, metavar="PATH_OR_NAME",
              help="Novel classes: a folder of classes the model never saw, or a dataset name "
                   "(default: the run's data.novel_dataset; a folder run without one uses its "
                   "training images, and says so).")
@click.option("--split", default=None,
              help="Novel-domain split (default: the run's novel split; glyphs: test = held-out "
                   "alphabets, far = symbols unlike letters).")
@click.option("--held-out", default=None, metavar="PATH_OR_NAME",
              help="Held-out images of the training classes for reconstruction (default: the "
                   "run's data.test_dataset / test split; a folder run without one uses its "
                   "training images, and says so).")
@click.option("--metrics", "metrics", default=None, metavar="NAME,NAME,...",
              help="Comma-separated metrics, or all; each is listed below. Default: the "
                   "--protocol's (" + "; ".join(f"{name}: {','.join(protocol_metrics(name))}"
                                                for name in PROTOCOLS) + "), those the model can do.")
@click.option("--protocol", type=click.Choice(list(PROTOCOLS)), default=DEFAULTS.protocol,
              show_default=True,
              help="The metrics and sizes used unless given: " + "; ".join(
                  f"{name}: {p.help}" for name, p in PROTOCOLS.items()) + ".")
@click.option("--sampler", type=click.Choice(SAMPLERS), default=None,
              help="Few-shot sampler of the quality rows (default: the run's model.sampler).")
@click.option("--scale", type=click.FloatRange(*SAMPLER_SCALE), default=None,
              help="Noise scale of the local samplers (default: the run's model.sampler_scale).")
@click.option("--force", is_flag=True,
              help="Recompute every metric (default: metrics OUT/metrics.json already holds for "
                   "the same options are kept, so an interrupted evaluation resumes).")
@click.option("--shots", type=click.IntRange(2), default=DEFAULTS.shots, show_default=True,
              help="Seed images per novel class (K).")
@click.option("--num-images", type=click.IntRange(1), default=DEFAULTS.num_images,
              help="Few-shot images to generate (N; default: the protocol's).")
@classifier_options("the evaluation classifiers")
@click.option("--data-limit", type=click.IntRange(1), default=None,
              help="At most this many images per split (default: whole splits; the "
                   "generalization metric uses 256 unless given).")
@metric_options("evaluate")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default: RUN/eval.")
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True,
              help="Seeds the few-shot plan, the classifiers and the figure's pairs.")
@friendly_errors
def evaluate_command(run_dir, dataset, split, held_out, metrics, protocol, sampler, scale, force,
                     shots, num_images, classifier_epochs, classifier_limit, data_limit, out, seed,
                     **metric_options):
    """Evaluate a run: few-shot quality beside reference rows, reconstruction and interpolations
    (--protocol paper adds the appendix's FD-clf / classifier scores and noise curve) ->
    RUN/eval/metrics.json, written after every metric (+ interpolations.png, noise.png)."""
    check_metric_options(metric_options)  # before TF loads
    from augintae_tf.evaluation.evaluate_run import evaluate

    names = parse_metrics(metrics, protocol)  # an unknown name fails before the run is loaded
    record = evaluate(run_dir, metrics=None if metrics is None else names, shots=shots,
                      num_images=num_images, dataset=dataset, split=split, held_out=held_out,
                      out=out, classifier_epochs=classifier_epochs,
                      classifier_limit=classifier_limit, seed=seed, data_limit=data_limit,
                      protocol=protocol, force=force, sampler=sampler, scale=scale,
                      echo=click.echo, **metric_options)
    for line in summary_lines(record):
        click.echo(line)
    click.echo(f"wrote {out or f'{run_dir}/eval'}/metrics.json ({record['timing_s']['total']:.1f} s)")


# Printed names of values whose JSON key is shared by two figures (docs/evaluation.md): the A.3
# class accuracy comes from a classifier trained on every novel image, seeds included; the
# quality table's "class acc" from one that never saw the seeds.
SUMMARY_NAMES = {"class_accuracy": "class_accuracy(A.3)", "domain_share": "domain_share(A.3)"}


def summary_lines(record: dict) -> list[str]:
    """The figures of ``record`` (top-level numbers, each with the images it rests on where the
    record says: ``KEY_images``) on one line, then a line per withheld one."""
    shown = [f"{SUMMARY_NAMES.get(k, k)}={v:.4g}"
             + (f" ({record[k + '_images']})" if isinstance(record.get(k + "_images"), str) else "")
             for k, v in record.items() if isinstance(v, float) and not k.endswith("_raw")]
    notes = [f"{SUMMARY_NAMES.get(k[:-5], k[:-5])}: {v}" for k, v in record.items()
             if k.endswith("_note") and isinstance(v, str)]
    return ([" ".join(shown)] if shown else []) + notes


@click.command("compare", short_help="Runs side by side: interpolations and metrics.")
@click.argument("run_dirs", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--run-dir", "run_dir_options", multiple=True,
              type=click.Path(exists=True, file_okay=False),
              help="A run to compare (repeatable); runs may also be given as arguments.")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for interpolations.png, generalization.png, metrics.md and "
                   "metrics.json.")
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True,
              help="Seeds the shared few-shot plan, the classifiers and the figures' pairs.")
@click.option("--quality/--no-quality", default=True, show_default=True,
              help="Generate every run's few-shot images on one shared plan and score them beside "
                   "the reference rows (floor, seed copies, augmented copies, pixel "
                   "cross-fade).")
@click.option("--utility/--no-utility", default=COMPARE_DEFAULTS.utility, show_default=True,
              help="Also the utility columns: a few-shot classifier of the novel classes trained "
                   "on the seeds + each row's kind of images (a few minutes on 2 cores).")
@click.option("--shots", type=click.IntRange(2), default=DEFAULTS.shots, show_default=True,
              help="Seed images per novel class (K) of the shared plan.")
@click.option("--num-images", type=click.IntRange(1), default=COMPARE_DEFAULTS.num_images,
              show_default=True,
              help="Few-shot images per run on the shared plan.")
@classifier_options("the quality classifier")
@click.option("--novel", "--dataset", "dataset", default=None, metavar="PATH_OR_NAME",
              help="Novel classes: a folder of classes the runs never saw, or a dataset name "
                   "(default: the runs' data.novel_dataset).")
@click.option("--sampler", "samplers", multiple=True, type=click.Choice(SAMPLERS),
              help="Score the runs' few-shot images with this sampler, one row per run and "
                   "sampler (repeatable; default: each run's model.sampler).")
@click.option("--scale", type=click.FloatRange(*SAMPLER_SCALE), default=None,
              help="Noise scale of the local samplers (default: each run's model.sampler_scale).")
@click.option("--split", default=None,
              help="Novel-domain split (default: the runs' data.novel_split, or test with "
                   "--novel; glyphs: test = held-out alphabets, far = symbols unlike letters).")
@metric_options("compare")
@friendly_errors
def compare_command(run_dirs, run_dir_options, out, seed, quality, utility, shots, num_images,
                    classifier_epochs, classifier_limit, dataset, samplers, scale, split,
                    **metric_options):
    """Interpolations of several runs on the same novel pairs, a table of their eval metrics and
    a few-shot quality table with reference rows (OUT/interpolations.png,
    OUT/generalization.png, OUT/metrics.md, OUT/metrics.json). Runs: --run-dir RUN (repeatable)
    and/or RUN arguments, in the order given."""
    check_metric_options(metric_options)  # before TF loads
    from augintae_tf.evaluation.compare_runs import compare

    run_dirs = (*run_dir_options, *run_dirs)
    if not run_dirs:
        raise click.UsageError("give the runs to compare: --run-dir RUN (repeatable) or RUN ...")

    result = compare(run_dirs, out, seed=seed, echo=click.echo, quality=quality, shots=shots,
                     num_images=num_images, classifier_epochs=classifier_epochs,
                     classifier_limit=classifier_limit, dataset=dataset, split=split,
                     samplers=tuple(samplers), scale=scale, utility=utility, **metric_options)
    click.echo(f"wrote {result['figure']}, {result['generalization_figure']}, "
               f"{os.path.join(out, 'metrics.md')} and {os.path.join(out, 'metrics.json')}")


COMMANDS = [evaluate_command, compare_command]
