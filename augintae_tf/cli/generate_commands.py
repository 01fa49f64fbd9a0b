"""`augintae-tf generate` and `augintae-tf interpolate`."""
from __future__ import annotations

from pathlib import Path

import click

from augintae_tf.capabilities import Capability
from augintae_tf.cli.common import folder_text, friendly_errors
from augintae_tf.config.choices import SAMPLERS

RUN_DIR = click.option("--run-dir", type=click.Path(exists=True, file_okay=False), required=True,
                       help="A directory written by `augintae-tf train`.")
CHECKPOINT = click.option("--checkpoint", type=click.Path(exists=True, file_okay=False), default=None,
                          help="A checkpoint directory (default: the run's newest intact one).")
OVERWRITE = click.option("--overwrite", is_flag=True, help="Replace what --out already holds.")
GIF_FRAMES = 32  # interpolate --gif: 17 images from --a to --b, then back without repeating the ends


def check_run_dir(run_dir) -> None:
    """One line naming ``run_dir`` when it is not a run directory, before anything about --out
    is checked and before TensorFlow is imported."""
    from augintae_tf.run.directory import read_config

    read_config(run_dir)


@click.command("generate", short_help="New images of a class from its seed images.")
@RUN_DIR
@click.option("--seeds", type=click.Path(exists=True), default=None,
              help="A folder of seed images of one class (e.g. what `augintae-tf export-seeds` "
                   "writes): one or more for local, local-edit, within, within-edit and the "
                   "aug-path samplers, at "
                   "least 2 for the others; omit it for a model that samples without seeds (e.g. fastgan).")
@click.option("--num", type=click.IntRange(1), default=64, show_default=True,
              help="How many new images to generate.")
@click.option("--out", type=click.Path(file_okay=False), default="generated", show_default=True,
              help="Folder to write NNNNN.png and grid.png to.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the sampler's draws (same seed, same images).")
@click.option("--sampler", type=click.Choice(SAMPLERS), default=None,
              help="How seed latents become new latents: slerp (the paper's: between two seeds), "
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
                   "aug-path-edit (that change as an edit of the seed's image). Default: the "
                   "run's model.sampler.")
@click.option("--scale", type=click.FloatRange(0, 10), default=None,
              help="Noise scale of the noisy samplers, in units of the local (or within-class) "
                   "spread of training latents (aug-path: also the multiple of the run's "
                   "augmentation ranges). Default: the run's model.sampler_scale.")
@CHECKPOINT
@OVERWRITE
@friendly_errors
def generate_command(run_dir, seeds, num, out, seed, sampler, scale, checkpoint, overwrite):
    """Few-shot generation: new images of the seeds' class, written as OUT/00000.png... and a
    grid.png with the seeds on top. A non-empty OUT is refused unless --overwrite (which first
    removes the files an earlier generation recorded in OUT/.generated.json, and refuses a
    folder holding an NNNNN.png or grid.png that no generation wrote)."""
    from augintae_tf.config.choices import seed_count_problem
    from augintae_tf.inference.outputs import check_out, generated_names
    from augintae_tf.run.directory import read_config

    saved = read_config(run_dir)  # a wrong run directory is named before anything about --out
    check_out(out, overwrite, generated_names(num))  # before the slow part
    import numpy as np

    from augintae_tf.data import load_image_files
    from augintae_tf.inference import generation
    from augintae_tf.inference.loaded import load_run
    from augintae_tf.metrics.novelty import nearest_seed_distances, novelty_from_distances

    if seeds is not None:  # the seed count is checked first: before the run loads, or any line
        wanted = sampler or getattr(saved.model, "sampler", None)
        problem = seed_count_problem(generation.seed_file_count(seeds), wanted, seeds,
                                     sampler is None)
        if problem:
            raise click.ClickException(problem)
    run = load_run(run_dir, checkpoint)
    cfg = run.config.data
    if seeds is None:
        if not run.model.has(Capability.SAMPLE):
            raise click.UsageError(f"--seeds is required: model {run.config.model.name} generates "
                                   "from seed images")
        chunks = generation.sample_chunks(run.model, num, seed)  # written as they come
        none = np.zeros((0, cfg.image_size, cfg.image_size, cfg.channels), np.float32)
        grid = generation.write_generation_chunks(out, none, chunks, num, overwrite=overwrite)
        click.echo(f"wrote {num} samples (seed {seed}) to {folder_text(out)} (grid: {grid}; "
                   f"checkpoint {run.checkpoint.name})")
        return
    seed_images, paths = load_image_files(seeds, cfg.image_size, cfg.channels, strict=True)
    used = run.model.check_sampler(sampler)  # a sampler it lacks fails before OUT is touched
    problem = seed_count_problem(len(paths), used, seeds, sampler is None)  # e.g. a fallback
    if problem:
        raise click.ClickException(problem)
    if used:
        run.model.noise_factor(used)
    note = run.model.sampler_note() if sampler is None and used else None
    if note:
        click.echo(f"warning: {note}", err=True)
    domain = run.seed_domain(seed_images)
    if domain is not None:
        click.echo(("warning: " if domain.outside else "") + domain.line(used or None),
                   err=domain.outside)
    chunks = generation.generate_chunks(run.model, seed_images, num, seed, sampler=sampler,
                                        scale=scale)
    distances = []  # each image's nearest-seed distance, gathered as the chunks are written
    chunks = (distances.append(nearest_seed_distances(c, seed_images)) or c for c in chunks)
    grid = generation.write_generation_chunks(out, seed_images, chunks, num, overwrite=overwrite)
    click.echo(f"wrote {num} images from {len(paths)} seed{'s' * (len(paths) != 1)} to "
               f"{folder_text(out)} (grid: {grid}; "
               f"checkpoint {run.checkpoint.name}" + (f"; sampler {used}" if used else "") + ")")
    reference, source = run.novelty_reference()
    found = novelty_from_distances(np.concatenate(distances), len(seed_images), reference, source)
    click.echo(("warning: " if found.close_to_copies else "") + found.line(),
               err=found.close_to_copies)


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
    from augintae_tf.images import image_format, save_gif, save_labelled_grid

    if out is None and gif is None:
        raise click.UsageError("give --out (a two-row image), --gif (an animation) or both")
    check_run_dir(run_dir)
    if out is not None:
        image_format(out)  # an unwritable suffix fails before the run is loaded
    if gif is not None and Path(gif).suffix.lower() != ".gif":
        raise click.ClickException(f"--gif {gif}: the animation is a GIF; give a .gif path")
    for option, path in (("--out", out), ("--gif", gif)):
        if path is not None and Path(path).exists() and not overwrite:
            raise click.ClickException(f"{option} {path} already exists; pass --overwrite to "
                                       "replace it")
    from augintae_tf.data import DataError, load_image_files
    from augintae_tf.inference.generation import pixel_fade
    from augintae_tf.inference.loaded import load_run

    run = load_run(run_dir, checkpoint)
    cfg = run.config.data
    endpoints = []
    for option, path in (("--a", image_a), ("--b", image_b)):
        try:
            endpoints.append(load_image_files([path], cfg.image_size, cfg.channels,
                                              strict=True)[0][0])
        except DataError as exc:
            raise DataError(f"{option} {path}: {exc}") from None
    a, b = endpoints
    name = run.config.model.name
    if out is not None:
        path = save_labelled_grid(out, [pixel_fade(a, b, steps), run.interpolate(a, b, steps)],
                                  ["pixel fade", f"{name} slerp"])
        click.echo(f"wrote {path}: row 1 pixel fade, row 2 {name} slerp ({steps} steps)")
    if gif is not None:
        import numpy as np

        frames = run.interpolate(a, b, GIF_FRAMES // 2 + 1)
        path = save_gif(gif, np.concatenate([frames, frames[-2:0:-1]]))
        click.echo(f"wrote {path}: {name} slerp from --a to --b and back ({GIF_FRAMES} frames)")


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
    from augintae_tf.inference.outputs import check_out

    check_run_dir(run_dir)
    check_out(out, overwrite, [])  # before the slow part (the names: once the images are read)
    import numpy as np

    from augintae_tf.data import load_image_files
    from augintae_tf.inference.generation import write_reconstructions
    from augintae_tf.inference.loaded import load_run

    run = load_run(run_dir, checkpoint)
    cfg = run.config.data
    inputs, paths = load_image_files(images, cfg.image_size, cfg.channels)
    recon = run.reconstruct(inputs)
    grid = write_reconstructions(out, inputs, recon, overwrite=overwrite)
    mse = float(np.mean(np.square(recon - inputs)))
    click.echo(f"wrote {len(recon)} reconstructions to {folder_text(out)} (grid: {grid}; MSE per pixel "
               f"{mse:.4g}; checkpoint {run.checkpoint.name})")


COMMANDS = [generate_command, interpolate_command, reconstruct_command]
