"""`augintae-tf generate`, `augintae-tf interpolate` and `augintae-tf reconstruct`: each parses
its options, makes one call of :mod:`augintae_tf.inference.files` and prints what it returns."""
from __future__ import annotations

import click

from augintae_tf.cli.common import folder_text, friendly_errors
from augintae_tf.config.choices import SAMPLER_SCALE, SAMPLERS
from augintae_tf.images import GIF_FRAMES
from augintae_tf.inference.files import generate_files, interpolate_files, reconstruct_files

RUN_DIR = click.option("--run-dir", type=click.Path(exists=True, file_okay=False), required=True,
                       help="A directory written by `augintae-tf train`.")
CHECKPOINT = click.option("--checkpoint", type=click.Path(exists=True, file_okay=False), default=None,
                          help="A checkpoint directory (default: the run's newest intact one).")
OVERWRITE = click.option("--overwrite", is_flag=True, help="Replace what --out already holds.")


def say(line) -> None:
    """A :class:`~augintae_tf.inference.loaded.Line`: a warning on stderr, else on stdout."""
    click.echo(("warning: " if line.warning else "") + line.text, err=line.warning)


@click.command("generate", short_help="New images of a class from its seed images.")
@RUN_DIR
@click.option("--seeds", type=click.Path(exists=True), default=None,
              help="A folder of seed images of one class (e.g. what `augintae-tf export-seeds` "
                   "writes): one or more for local, local-edit, within, within-edit, flow and "
                   "the aug-path samplers, at least 2 for the others; omit it for a model that "
                   "samples without seeds (e.g. fastgan).")
@click.option("--num", type=click.IntRange(1), default=64, show_default=True,
              help="How many new images to generate.")
@click.option("--out", type=click.Path(file_okay=False), default="generated", show_default=True,
              help="Folder to write NNNNN.png and grid.png to.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the sampler's draws (same seed, same images).")
@click.option("--sampler", type=click.Choice(SAMPLERS), default=None,
              help="How seeds become new images: slerp (the paper's: between two seeds), "
                   "local (one seed plus noise along the directions training images vary in "
                   "locally), local-edit (the recommended recipe's: the seed's own image plus "
                   "the decoded change of that local step, so the seed's detail stays), "
                   "slerp-local (that noise around a slerp), convex (a random convex "
                   "combination of all seeds), within (one seed plus noise along how the "
                   "training classes vary within a class), within-edit (that step as an edit "
                   "of the seed's image), set-edit (the edit with the seeds' own scatter mixed "
                   "in), aug-path (a decoded point on the augmentation path AugIntAE learned "
                   "from a seed to a random augmentation of it, in the run's ranges times "
                   "--scale), aug-path-within (a within step on top of that point), "
                   "aug-path-edit (that change as an edit of the seed's image), flow (a seed "
                   "warped by how two images of one labelled training class differ; of all "
                   "samplers, the images a few-shot classifier learned most from). Default: "
                   "the run's model.sampler.")
@click.option("--scale", type=click.FloatRange(*SAMPLER_SCALE), default=None,
              help="Scale of the samplers that take one: noise in units of the local (or "
                   "within-class) spread of training latents (aug-path: the multiple of the "
                   "run's augmentation ranges; flow: of the training deformations). Default: "
                   "the run's model.sampler_scale.")
@CHECKPOINT
@OVERWRITE
@friendly_errors
def generate_command(run_dir, seeds, num, out, seed, sampler, scale, checkpoint, overwrite):
    """Few-shot generation: new images of the seeds' class, written as OUT/00000.png... and a
    grid.png with the seeds on top. A non-empty OUT is refused unless --overwrite (which first
    removes the files an earlier generation recorded in OUT/.generated.json, and refuses a
    folder holding an NNNNN.png or grid.png that no generation wrote)."""
    done = generate_files(run_dir, out, seeds, num, seed, sampler=sampler, scale=scale,
                          checkpoint=checkpoint, overwrite=overwrite)
    for line in done.lines:
        say(line)
    where = f"{folder_text(out)} (grid: {done.grid}; checkpoint {done.checkpoint.name}"
    if not done.seeds:
        click.echo(f"wrote {num} samples (seed {seed}) to {where})")
        return
    click.echo(f"wrote {num} images from {done.seeds} seed{'s' * (done.seeds != 1)} to {where}"
               + (f"; sampler {done.sampler}" if done.sampler else "") + ")")
    say(done.novelty)


@click.command("interpolate", short_help="Pixel fade vs the model's slerp from A to B.")
@RUN_DIR
@click.option("--a", "image_a", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The image the path starts from.")
@click.option("--b", "image_b", type=click.Path(exists=True, dir_okay=False), required=True,
              help="The image the path ends at.")
@click.option("--steps", type=click.IntRange(2, 64), default=8, show_default=True,
              help="Images per row, --a and --b included.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Image to write: .png, .jpg/.jpeg, .webp or .bmp (the suffix picks the format).")
@click.option("--gif", type=click.Path(dir_okay=False), default=None,
              help=f"Also (or only) write an animated .gif of the slerp path, {GIF_FRAMES} frames "
                   "from --a to --b and back.")
@CHECKPOINT
@OVERWRITE
@friendly_errors
def interpolate_command(run_dir, image_a, image_b, steps, out, gif, checkpoint, overwrite):
    """Pixel fade and the model's slerp path from --a to --b: a labelled two-row image (--out)
    and/or an animated GIF (--gif)."""
    if out is None and gif is None:
        raise click.UsageError("give --out (a two-row image), --gif (an animation) or both")
    done = interpolate_files(run_dir, image_a, image_b, steps, out=out, gif=gif,
                             checkpoint=checkpoint, overwrite=overwrite)
    if done.figure is not None:
        click.echo(f"wrote {done.figure}: row 1 pixel fade, row 2 {done.model} slerp "
                   f"({steps} steps)")
    if done.gif is not None:
        click.echo(f"wrote {done.gif}: {done.model} slerp from --a to --b and back "
                   f"({done.frames} frames)")


@click.command("reconstruct", short_help="Images through a run's model and back.")
@RUN_DIR
@click.option("--images", type=click.Path(exists=True), required=True,
              help="A folder of images (recursive) or a single image file.")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder to write NNNNN.png and grid.png to.")
@CHECKPOINT
@OVERWRITE
@friendly_errors
def reconstruct_command(run_dir, images, out, checkpoint, overwrite):
    """Reconstruct images through the run's model: the AE family encodes and decodes, wgan-gp
    inverts (inversion network + refinement) and generates.  Writes OUT/00000.png... (the
    inputs in sorted order) and grid.png (input rows above reconstruction rows)."""
    done = reconstruct_files(run_dir, images, out, checkpoint=checkpoint, overwrite=overwrite)
    click.echo(f"wrote {done.count} reconstructions to {folder_text(out)} (grid: {done.grid}; "
               f"MSE per pixel {done.mse:.4g}; checkpoint {done.checkpoint.name})")


COMMANDS = [generate_command, interpolate_command, reconstruct_command]
