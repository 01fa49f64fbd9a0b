"""`augintae-tf train`."""
from __future__ import annotations

import sys

import click

from augintae_tf.cli.common import friendly_errors
from augintae_tf.cli.options import config_from_options, data_options
from augintae_tf.config.choices import PRECISIONS, STRATEGIES
from augintae_tf.errors import Terminated
from augintae_tf.config.model_table import model_names
from augintae_tf.run import interrupt
from augintae_tf.run.directory import check_resumable, latest_run_dir
from augintae_tf.run.layout import RunLayout
from augintae_tf.run.lock import RunLock


class ModelChoice(click.Choice):
    """The model table's names, read when the option is used (models registered at runtime
    are accepted too)."""

    def __init__(self):
        super().__init__(model_names())

    @property
    def choices(self):
        return model_names()

    @choices.setter
    def choices(self, value):  # click.Choice.__init__ assigns it; the model table is the source
        pass


@click.command("train", short_help="Train a model into a run directory.")
@data_options
@click.option("--model", type=ModelChoice(), default=None,
              help="A registered model (default: the preset's: augintae for the recommended and "
                   "the paper presets); its own config fields are set with "
                   "--set model.FIELD=VALUE.")
@click.option("--novel", default=None, metavar="PATH_OR_NAME",
              help="Novel classes (a folder of classes the model does not train on) for the "
                   "sample grids and `evaluate` (data.novel_dataset; default: the preset's, for "
                   "a folder the training images themselves).")
@click.option("--held-out", default=None, metavar="PATH_OR_NAME",
              help="Held-out images of the training classes, for `evaluate`'s reconstruction "
                   "(data.test_dataset; default: the dataset's test split, for a folder the "
                   "training images themselves).")
@click.option("--epochs", type=int, default=None, help="Passes over the training split (paper: 100).")
@click.option("--steps", type=click.IntRange(1), default=None,
              help="Budget in optimizer steps (images seen / batch size); overrides --epochs.")
@click.option("--batch-size", type=int, default=None, help="Global batch size (default 128).")
@click.option("--lr", type=float, default=None, help="Adam learning rate (default 1e-3).")
@click.option("--latent-dim", type=int, default=None,
              help="Latent size (default: the preset's; the recommended recipe's is 128).")
@click.option("--seed", type=int, default=None, help="Seeds data order, augmentation and alpha.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help="tf.distribute strategy; auto = mirrored when more than one GPU is visible.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None,
              help="Compute precision (default auto: mixed_bfloat16 where the CPU or GPU computes "
                   "in bf16 and the model measured the same in it: ae, augintae; else float32).")
@click.option("--jit/--no-jit", default=None, help="XLA-compile the train step (default: Keras auto).")
@click.option("--run-dir", type=click.Path(file_okay=False), default=None,
              help="Default: runs/NNNNN-<dataset>-<model>.")
@click.option("--snap", type=click.IntRange(1), default=None, metavar="N",
              help="Checkpoint every N epochs (default: about every 5 minutes); the first and "
                   "the last epoch always (train.snap).")
@click.option("--keep", type=click.IntRange(1), default=None, metavar="K",
              help="Keep the K newest checkpoints, remove older ones (default 3; "
                   "train.keep_checkpoints).")
@click.option("--runs-root", type=click.Path(file_okay=False), default="runs", show_default=True,
              help="Where a run without --run-dir gets its numbered folder.")
@click.option("--resume", is_flag=True,
              help="Continue --run-dir (default: the newest run) from its last checkpoint.")
@click.option("--stage", default=None, metavar="NAME",
              help="Rerun one post-training stage of a trained --run-dir (default: the newest "
                   "run) and nothing else, e.g. wgan-gp's `inversion`.")
@click.option("--dry-run", is_flag=True,
              help="Print the resolved config, dataset summary and parameter counts; train nothing.")
@friendly_errors
def train_command(**options):
    """Train a model; writes a run directory (config, checkpoints, samples, metrics, logs).
    Ctrl-C or SIGTERM checkpoints the last finished epoch, prints the command that resumes it
    and exits 130 (143 for SIGTERM)."""
    try:
        with interrupt.stop_on_signals():  # from the start: Ctrl-C is never click's "Aborted!"
            _train(**options)
    except Terminated as exc:
        line, code = interrupt.report(exc)
        if sys.stderr.isatty():  # the terminal echoed "^C" where the cursor was: a line of its own
            click.echo("", err=True)
        click.echo(line, err=True)
        sys.exit(code)


def _train(model, novel, held_out, epochs, steps, batch_size, lr, latent_dim, seed, strategy,
           precision, jit, run_dir, snap, keep, runs_root, resume, stage, dry_run, **options):
    if stage is not None:
        from augintae_tf.training import run_stage

        run_stage(run_dir or latest_run_dir(runs_root), stage, echo=click.echo)
        click.echo(f"done: stage {stage} of {run_dir or latest_run_dir(runs_root)}")
        return

    fields = {"model.name": model, "train.epochs": epochs, "train.steps": steps, "train.batch_size": batch_size,
              "train.lr": lr, "model.latent_dim": latent_dim, "train.seed": seed,
              "train.strategy": strategy, "train.precision": precision,
              "train.jit": None if jit is None else ("on" if jit else "off"),
              "train.snap": snap, "train.keep_checkpoints": keep,
              "data.novel_dataset": novel, "data.test_dataset": held_out}
    if resume:
        run_dir = run_dir or str(latest_run_dir(runs_root))
        RunLock.check_free(run_dir)  # "in use" at once, not after importing TensorFlow
        check_resumable(run_dir)
    if resume and options["config_path"] is None:
        # Resuming starts from the run's own config; options given on top must agree with it.
        options["config_path"] = str(RunLayout(run_dir).config)
    cfg = config_from_options(**options, **fields, echo=click.echo)
    from augintae_tf.training import train  # TensorFlow: only once the options are known good

    result = train(cfg, run_dir, resume=resume, runs_root=runs_root, dry_run=dry_run,
                   echo=click.echo)
    if dry_run:
        click.echo(result)
        return
    last = result.history[-1] if result.history else {}
    losses = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k.endswith("loss"))
    epochs = f"{result.epochs_done} epoch{'' if result.epochs_done == 1 else 's'}"
    click.echo(f"done: {epochs} in {result.run_dir}"
               + (f" ({losses}; {last.get('elapsed_s', 0):.0f} s)" if last else ""))
    if result.checkpoints:
        click.echo(result.checkpoints)


COMMANDS = [train_command]
