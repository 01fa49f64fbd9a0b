"""`augintae-tf generate` and `augintae-tf interpolate`."""
from __future__ import annotations

from pathlib import Path

import click

from augintae_tf.capabilities import Capability
from augintae_tf.cli.main import friendly_errors

RUN_DIR = click.option("--run-dir", type=click.Path(exists=True, file_okay=False), required=True,
                       help="A directory written by `augintae-tf train`.")
CHECKPOINT = click.option("--checkpoint", type=click.Path(exists=True, file_okay=False), default=None,
                          help="A checkpoint directory (default: the run's newest intact one).")
OVERWRITE = click.option("--overwrite", is_flag=True, help="Replace what --out already holds.")


@click.command("generate")
@RUN_DIR
@click.option("--seeds", type=click.Path(exists=True), default=None,
              help="A folder of seed images of one class (at least 2), or a single image file; "
                   "omit it for a model that samples without seeds (e.g. fastgan).")
@click.option("--num", type=click.IntRange(1), default=64, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default="generated", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@CHECKPOINT
@OVERWRITE
@friendly_errors
def generate_command(run_dir, seeds, num, out, seed, checkpoint, overwrite):
    """Few-shot generation: new images of the seeds' class, written as OUT/00000.png... and a
    grid.png with the seeds on top. A non-empty OUT is refused unless --overwrite (which first
    removes the files an earlier generation recorded in OUT/.generated.json, and refuses a
    folder holding an NNNNN.png or grid.png that no generation wrote)."""
    if Path(out).is_dir() and any(Path(out).iterdir()) and not overwrite:  # before the slow part
        raise click.ClickException(f"--out {out} is not empty; choose an empty folder or pass "
                                   "--overwrite")
    from augintae_tf.data import load_image_files
    from augintae_tf.generation import check_out, write_generation

    check_out(out, overwrite, [f"{i:05d}.png" for i in range(num)] + ["grid.png"])
    from augintae_tf.runs import load_run

    run = load_run(run_dir, checkpoint)
    cfg = run.config.data
    if seeds is None:
        if not run.model.has(Capability.SAMPLE):
            raise click.UsageError(f"--seeds is required: model {run.config.model.name} generates "
                                   "from seed images")
        images = run.sample(num=num, seed=seed)
        grid = write_generation(out, images[:0], images, overwrite=overwrite)
        click.echo(f"wrote {len(images)} samples (seed {seed}) to {out}/ (grid: {grid}; "
                   f"checkpoint {run.checkpoint.name})")
        return
    seed_images, paths = load_image_files(seeds, cfg.image_size, cfg.channels, strict=True)
    images = run.generate(seed_images, num=num, seed=seed)
    grid = write_generation(out, seed_images, images, overwrite=overwrite)
    click.echo(f"wrote {len(images)} images from {len(paths)} seeds to {out}/ (grid: {grid}; "
               f"checkpoint {run.checkpoint.name})")


@click.command("interpolate")
@RUN_DIR
@click.option("--a", "image_a", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--b", "image_b", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--steps", type=click.IntRange(2, 64), default=8, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Image to write: .png, .jpg/.jpeg, .webp or .bmp (the suffix picks the format).")
@CHECKPOINT
@OVERWRITE
@friendly_errors
def interpolate_command(run_dir, image_a, image_b, steps, out, checkpoint, overwrite):
    """One row of pixel fade and one row of the model's slerp path from --a to --b."""
    from augintae_tf.images import image_format, save_grid

    image_format(out)  # an unwritable suffix fails before the run is loaded
    if Path(out).exists() and not overwrite:
        raise click.ClickException(f"--out {out} already exists; pass --overwrite to replace it")
    from augintae_tf.data import DataError, load_image_files
    from augintae_tf.generation import pixel_fade
    from augintae_tf.runs import load_run

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
    path = save_grid(out, [pixel_fade(a, b, steps), run.interpolate(a, b, steps)])
    click.echo(f"wrote {path}: row 1 pixel fade, row 2 {run.config.model.name} slerp ({steps} steps)")


@click.command("reconstruct")
@RUN_DIR
@click.option("--images", type=click.Path(exists=True), required=True,
              help="A folder of images (recursive) or a single image file.")
@click.option("--out", type=click.Path(file_okay=False), required=True)
@CHECKPOINT
@OVERWRITE
@friendly_errors
def reconstruct_command(run_dir, images, out, checkpoint, overwrite):
    """Reconstruct images through the run's model: the AE family encodes and decodes, wgan-gp
    inverts (inversion network + refinement) and generates.  Writes OUT/00000.png... (the
    inputs in sorted order) and grid.png (input rows above reconstruction rows)."""
    if Path(out).is_dir() and any(Path(out).iterdir()) and not overwrite:
        raise click.ClickException(f"--out {out} is not empty; choose an empty folder or pass "
                                   "--overwrite")
    import numpy as np

    from augintae_tf.data import load_image_files
    from augintae_tf.generation import write_reconstructions
    from augintae_tf.runs import load_run

    run = load_run(run_dir, checkpoint)
    cfg = run.config.data
    inputs, paths = load_image_files(images, cfg.image_size, cfg.channels)
    recon = run.reconstruct(inputs)
    grid = write_reconstructions(out, inputs, recon, overwrite=overwrite)
    mse = float(np.mean(np.square(recon - inputs)))
    click.echo(f"wrote {len(recon)} reconstructions to {out}/ (grid: {grid}; MSE per pixel "
               f"{mse:.4g}; checkpoint {run.checkpoint.name})")


COMMANDS = [generate_command, interpolate_command, reconstruct_command]
