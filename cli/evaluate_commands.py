"""`augintae-tf evaluate` and `augintae-tf compare`."""
from __future__ import annotations

import click

from augintae_tf.cli.main import friendly_errors
from augintae_tf.eval_data import COMPARE_NUM_IMAGES
from augintae_tf.eval_data import EVAL_DEFAULTS as DEFAULTS
from augintae_tf.evaluation import METRIC_TABLE, default_metrics



def double_exposure_options(command):
    """``--double-exposure-ratio`` and ``--double-exposure-shift`` (the quality column's test),
    shared by ``evaluate`` and ``compare``."""
    command = click.option(
        "--double-exposure-shift", type=int, default=DEFAULTS.double_exposure_shift,
        show_default=True,
        help="Quality: the seeds may shift up to this many pixels in that test (0 to 4).")(command)
    return click.option(
        "--double-exposure-ratio", type=float, default=DEFAULTS.double_exposure_ratio,
        show_default=True,
        help="Quality: an image is a double exposure when a blend of two of its class's seeds "
             "fits it with under RATIO x the error of the best single seed; in (0, 1].")(command)

@click.command("evaluate")
@click.option("--run-dir", type=click.Path(exists=True, file_okay=False), required=True,
              help="A directory written by `augintae-tf train`.")
@click.option("--dataset", default=None, metavar="NAME_OR_PATH",
              help="Novel-domain dataset (default: the run's novel dataset).")
@click.option("--split", default=None,
              help="Novel-domain split (default: the run's novel split; glyphs: test = held-out "
                   "alphabets, far = symbols unlike letters).")
@click.option("--metrics", "metrics", default=None,
              help="Comma list (or all) of: " + "; ".join(f"{m.name} ({m.help})"
                                                      for m in METRIC_TABLE.values())
              + ". Default: " + ",".join(default_metrics()) + " (those the model can do).")
@click.option("--shots", type=click.IntRange(2), default=DEFAULTS.shots, show_default=True,
              help="Seed images per novel class (K).")
@click.option("--num-images", type=click.IntRange(1), default=DEFAULTS.num_images,
              show_default=True,
              help="Few-shot images to generate (N).")
@click.option("--noise-trials", type=click.IntRange(1), default=DEFAULTS.noise_trials,
              show_default=True,
              help="Noise images per frequency.")
@click.option("--classifier-epochs", type=click.IntRange(1), default=DEFAULTS.classifier_epochs,
              show_default=True)
@click.option("--classifier-limit", type=click.IntRange(2), default=DEFAULTS.classifier_limit,
              show_default=True,
              help="At most this many real images per domain to train the classifiers on.")
@click.option("--data-limit", type=click.IntRange(1), default=None,
              help="At most this many images per split (default: whole splits; the "
                   "generalization metric uses 256 unless given).")
@click.option("--fid-network", type=click.Path(), default=None,
              help="Inception-v3 notop .h5 weights or TF-GAN inception SavedModel directory.")
@double_exposure_options
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default: RUN/eval.")
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True)
@friendly_errors
def evaluate_command(run_dir, dataset, split, metrics, shots, num_images, noise_trials, classifier_epochs,
                     classifier_limit, data_limit, fid_network, out, seed, double_exposure_ratio,
                     double_exposure_shift):
    """Evaluate a run: few-shot FID / FD-clf / classifier scores, few-shot quality beside reference
    rows, reconstruction, noise curve and interpolations -> RUN/eval/metrics.json (+ noise.png, interpolations.png)."""
    from augintae_tf.evaluation import evaluate, parse_metrics

    names = parse_metrics(metrics)  # an unknown name fails before the run is loaded
    record = evaluate(run_dir, metrics=None if metrics is None else names, shots=shots, num_images=num_images, fid_network=fid_network,
                      dataset=dataset, split=split, out=out, noise_trials=noise_trials,
                      classifier_epochs=classifier_epochs, classifier_limit=classifier_limit, seed=seed,
                      data_limit=data_limit, double_exposure_ratio=double_exposure_ratio,
                      double_exposure_shift=double_exposure_shift, echo=click.echo)
    shown = {k: v for k, v in record.items() if isinstance(v, float)}
    click.echo(" ".join(f"{k}={v:.4g}" for k, v in shown.items()))
    click.echo(f"wrote {out or f'{run_dir}/eval'}/metrics.json ({record['timing_s']['total']:.1f} s)")


@click.command("compare")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), required=True)
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True)
@click.option("--quality/--no-quality", default=True, show_default=True,
              help="Generate every run's few-shot images on one shared plan and score them beside "
                   "the reference rows (floor, seed copies, pixel cross-fade).")
@click.option("--shots", type=click.IntRange(2), default=DEFAULTS.shots, show_default=True,
              help="Seed images per novel class (K) of the shared plan.")
@click.option("--num-images", type=click.IntRange(1), default=COMPARE_NUM_IMAGES, show_default=True,
              help="Few-shot images per run on the shared plan.")
@click.option("--classifier-epochs", type=click.IntRange(1), default=DEFAULTS.classifier_epochs,
              show_default=True)
@click.option("--classifier-limit", type=click.IntRange(2), default=DEFAULTS.classifier_limit,
              show_default=True)
@click.option("--split", default=None,
              help="Novel-domain split of the runs' novel dataset (default: their data.novel_split; "
                   "glyphs: test = held-out alphabets, far = symbols unlike letters).")
@double_exposure_options
@friendly_errors
def compare_command(run_dirs, out, seed, quality, shots, num_images, classifier_epochs, classifier_limit,
                    split, double_exposure_ratio, double_exposure_shift):
    """Interpolations of several runs on the same novel pairs, a table of their eval metrics and
    a few-shot quality table with reference rows (OUT/interpolations.png,
    OUT/generalization.png, OUT/metrics.md,
    OUT/metrics.json)."""
    from augintae_tf.evaluation import compare

    result = compare(run_dirs, out, seed=seed, echo=click.echo, quality=quality, shots=shots,
                     num_images=num_images, classifier_epochs=classifier_epochs,
                     classifier_limit=classifier_limit, novel_split=split,
                     double_exposure_ratio=double_exposure_ratio,
                     double_exposure_shift=double_exposure_shift)
    click.echo(f"wrote {result['figure']}, {result['generalization_figure']}, {out}/metrics.md and {out}/metrics.json")


COMMANDS = [evaluate_command, compare_command]
