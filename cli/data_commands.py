"""`augintae-tf datasets` and `augintae-tf augment-preview`."""
from __future__ import annotations

import click

from augintae_tf.cli.main import friendly_errors
from augintae_tf.cli.options import config_from_options, data_options


@click.command("datasets")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="TFDS data_dir to check for prepared data (default: TFDS's own).")
@friendly_errors
def datasets_command(data_dir):
    """List every dataset name with resolution, channels, splits and offline availability.

    Any existing folder of images also works as --dataset PATH.
    """
    from augintae_tf.data import is_available_offline, list_datasets

    rows = [(d.name, f"{d.image_size}x{d.image_size}", str(d.channels), ",".join(d.splits),
             d.source, "yes" if is_available_offline(d.name, data_dir) else "no")
            for d in list_datasets()]
    header = ("name", "resolution", "channels", "splits", "source", "offline")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    click.echo("\nAny folder of PNG/JPEG/BMP/GIF/WebP images also works: --dataset PATH "
               "(classes = first-level subfolders).")


@click.command("augment-preview")
@data_options
@click.option("--split", default=None, help="Split to preview (default: the training split).")
@click.option("--num", type=click.IntRange(1, 64), default=8, show_default=True,
              help="How many original images (one row each).")
@click.option("--copies", type=click.IntRange(1, 32), default=7, show_default=True,
              help="Augmented copies per original.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="PNG to write.")
@friendly_errors
def augment_preview_command(out, split, num, copies, seed, **options):
    """Write a grid: each row is an original image followed by augmented copies."""
    from augintae_tf.augment import preview_rows
    from augintae_tf.data import load_arrays
    from augintae_tf.images import save_grid

    cfg = config_from_options(**options, echo=click.echo)
    images, _ = load_arrays(cfg.data, split or cfg.data.train_split, limit=num)
    path = save_grid(out, preview_rows(images, cfg.augment, copies=copies, seed=seed))
    click.echo(f"wrote {path} ({len(images)} originals x {copies} augmented copies, "
               f"{cfg.data.image_size}x{cfg.data.image_size}x{cfg.data.channels})")


@click.command("export-seeds")
@data_options
@click.option("--split", default=None, help="Default: the config's novel split (held-out classes).")
@click.option("--label", type=int, default=None,
              help="Class to export (default: the first class with --num images).")
@click.option("--num", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), required=True)
@friendly_errors
def export_seeds_command(split, label, num, out, **options):
    """Write --num images of one class as PNGs: seeds for `augintae-tf generate`."""
    from augintae_tf.data import label_names, load_arrays, resolve_novel
    from augintae_tf.generation import export_class_images

    cfg = config_from_options(**options, echo=click.echo, recipe=False)
    dataset, default_split = resolve_novel(cfg.data)
    split = split or default_split
    images, labels = load_arrays(cfg.data, split, dataset=dataset)
    label, paths = export_class_images(out, images, labels, num, label)
    names = label_names(dataset, split, cfg.data.data_dir) or []
    name = f" ({names[label]})" if label < len(names) else ""
    click.echo(f"wrote {len(paths)} images of class {label}{name} from {dataset} [{split}] to {out}/")


COMMANDS = [datasets_command, augment_preview_command, export_seeds_command]
