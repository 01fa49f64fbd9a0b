"""`augintae-tf datasets` and `augintae-tf augment-preview`."""
from __future__ import annotations

import click

from augintae_tf.cli.common import folder_text, friendly_errors
from augintae_tf.cli.options import check_file_out, config_from_options, data_options
from augintae_tf.output_folders import check_out, seed_names


@click.command("datasets", short_help="List the datasets and what loads offline.")
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


@click.command("augment-preview", short_help="Originals beside augmented copies, as a grid.")
@data_options
@click.option("--split", default=None, help="Split to preview (default: the training split).")
@click.option("--num", type=click.IntRange(1, 64), default=8, show_default=True,
              help="How many original images (one row each), spread over the classes.")
@click.option("--copies", type=click.IntRange(1, 32), default=7, show_default=True,
              help="Augmented copies per original.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the augmentations and which images are shown.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="PNG to write.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@friendly_errors
def augment_preview_command(out, split, num, copies, seed, overwrite, **options):
    """Write a grid: each row is an original image followed by augmented copies, labelled with
    its class (a folder: its file). The originals are spread over the classes (evenly spaced
    classes, one image each in turn) and drawn at random within each, fixed by --seed."""
    check_file_out(out, overwrite)  # before the data is loaded
    cfg = config_from_options(**options, echo=click.echo)
    from augintae_tf.training.augment_preview import write_preview

    done = write_preview(cfg, out, split, num, copies, seed)
    click.echo(f"wrote {done.path} ({done.originals} originals from {done.classes} "
               f"class{'es' if done.classes != 1 else ''} x {done.copies} augmented copies, "
               f"{cfg.data.image_size}x{cfg.data.image_size}x{cfg.data.channels})")


@click.command("export-seeds", short_help="Write one class's images as seed PNGs.")
@data_options
@click.option("--split", default=None, help="Default: the config's novel split (held-out classes).")
@click.option("--label", default=None, metavar="NAME_OR_NUMBER",
              help="Class to export, by name as this command prints it (e.g. "
                   "armenian/capital-ayb) or by number (default: the first class with --num "
                   "images).")
@click.option("--num", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="How many images of the class to write.")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder to write seed-00.png, seed-01.png ... to.")
@click.option("--overwrite", is_flag=True,
              help="Write into a non-empty --out, replacing only the files an earlier "
                   "export-seeds or generate recorded there (OUT/.generated.json).")
@friendly_errors
def export_seeds_command(split, label, num, out, overwrite, **options):
    """Write --num images of one class as PNGs (OUT/seed-00.png...): seeds for `augintae-tf
    generate`. A non-empty OUT is refused unless --overwrite."""
    check_out(out, overwrite, seed_names(num))  # before the data (and TensorFlow) is loaded
    cfg = config_from_options(**options, echo=click.echo, recipe=False)
    from augintae_tf.data.seeds import export_seeds

    done = export_seeds(cfg.data, out, num, split, label, overwrite)
    name = f" ({done.name})" if done.name is not None else ""
    click.echo(f"wrote {len(done.paths)} images of class {done.label}{name} from {done.dataset} "
               f"[{done.split}] to {folder_text(out)}")


COMMANDS = [datasets_command, augment_preview_command, export_seeds_command]
