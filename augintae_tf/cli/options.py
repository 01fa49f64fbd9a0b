"""Options shared by several commands, and how they become a validated Config."""
from __future__ import annotations

import functools

import click

from augintae_tf.config.defaults import (RECIPE_LINES, dataset_overrides, held_out_split,
                                         model_choice, preset_for_dataset)
from augintae_tf.config.files import preset_dataset
from augintae_tf.config.loading import load_config, parse_overrides
from augintae_tf.config.model_table import trainable_sizes
from augintae_tf.config.schema import Config
from augintae_tf.config.values import INT_MAX, SEED_RANGE, check_int
from augintae_tf.errors import ConfigError


class Int(click.IntRange):
    """The integer type of every CLI option: :func:`augintae_tf.config.check_int`, the check
    ``--set`` and config files get too, so an option is never out of the range TensorFlow and
    NumPy take (``--seed 2**70`` was an OverflowError deep in TensorFlow). ``high`` defaults to
    :data:`~augintae_tf.config.INT_MAX`; the error is one line naming the option and range."""

    name = "integer"

    def __init__(self, low: int | None = None, high: int | None = INT_MAX):
        super().__init__(low, INT_MAX if high is None else high)

    def _describe_range(self) -> str:
        """The range in ``--help``, without the implied INT_MAX upper bound."""
        if self.max != INT_MAX:
            return super()._describe_range()
        return "" if self.min is None else f"x>={self.min}"

    def convert(self, value, param, ctx):
        try:
            return check_int(value, self.min, self.max)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


# Integer options whose range is not the one they declare: (command, option) -> (low, high).
# generate --num: its images are written as they are made (augintae_tf.inference.generation.CHUNK
# at a time), so memory does not grow with it; the cap bounds the list of files and one call's
# time.
OPTION_RANGES = {("generate", "num"): (1, 1_000_000)}


def bound_integers(command: click.Command) -> None:
    """The rule for every integer option of every command (``cli.main`` applies it to each):
    the :class:`Int` type, with the range it declares (``type=int``: up to INT_MAX), every
    ``--seed`` in :data:`~augintae_tf.config.SEED_RANGE`, and :data:`OPTION_RANGES`. So no
    option takes a value TensorFlow or NumPy cannot (``--seed 2**70``, ``--num 10**7``)."""
    for param in command.params:
        if not isinstance(param.type, click.types.IntParamType) or getattr(param, "count", False):
            continue  # (a counting flag, -vv, counts its own occurrences)
        declared = isinstance(param.type, click.IntRange)
        low, high = (param.type.min, param.type.max) if declared else (None, INT_MAX)
        if param.name == "seed":
            low, high = SEED_RANGE
        param.type = Int(*OPTION_RANGES.get((command.name, param.name), (low, high)))


def check_file_out(out: str, overwrite: bool) -> None:
    """``--out FILE``: a writable image suffix, and not an existing file unless ``overwrite``
    (one line each, before anything is loaded)."""
    import os

    from augintae_tf.images import image_format

    image_format(out)
    if os.path.lexists(out) and not overwrite:
        raise click.ClickException(f"--out {out} already exists; pass --overwrite to replace it")


def data_options(func):
    """--config, --dataset, --image-size, --channels, --data-dir and free --set overrides."""

    @click.option("--config", "config_path", default=None, metavar="PRESET_OR_YAML",
                  help="A preset name (glyphs, omniglot, mnist, emnist, ...) or a YAML file. "
                       "Default: the preset matching --dataset, else the recommended recipe "
                       "for its channels (recommended, recommended-rgb).")
    @click.option("--dataset", default=None, metavar="NAME_OR_PATH",
                  help="A name from `augintae-tf datasets` or a folder of images.")
    @click.option("--image-size", type=int, default=None,
                  help="Images are resized to this square (default for a folder: the largest "
                       "size the model takes that its images need not be upscaled to).")
    @click.option("--channels", type=click.Choice(["1", "3"]), default=None,
                  help="Default for a folder: 3 if its images have colour, else 1.")
    @click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                  help="TFDS data_dir holding already prepared data.")
    @click.option("--set", "overrides", multiple=True, metavar="SECTION.FIELD=VALUE",
                  help="Override any config field, e.g. --set augment.rotation=10 (repeatable).")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def config_from_options(config_path=None, dataset=None, image_size=None, channels=None,
                        data_dir=None, overrides=(), echo=None, recipe=True, **fields) -> Config:
    """Preset -> named options -> ``--set`` overrides -> validation.

    ``fields`` maps dotted config keys to option values; ``None`` means "not given".  A
    ``dataset`` the config was not written for (a folder, a dataset without a preset) gets its
    image size and channels from the data unless given (:func:`data_shape`), and, without
    ``config_path``, the recommended recipe for its channels; ``echo`` prints one line on each
    (on the recipe only with ``recipe``).
    """
    named = {"data.dataset": dataset, "data.image_size": image_size, "data.channels": channels,
             "data.data_dir": data_dir, **fields}
    named = {key: value for key, value in named.items() if value is not None}
    sets = parse_overrides(overrides)
    for key in named.keys() & sets.keys():
        raise ConfigError(f"{option_name(key)} {named[key]} and --set {key}={sets[key]} both set "
                          f"{key}; give it once")
    given = {**named, **sets}
    preset = config_path or preset_for_dataset(dataset, channels=int(given.get("data.channels", 1)))
    infer = dataset is not None and preset_dataset(preset) != dataset and not (
        "data.image_size" in given and "data.channels" in given)
    # Check everything that can be checked before the data registry imports TensorFlow (a size
    # still to be inferred is checked once it is known).
    cfg = load_config(preset, {**given, **(_any_size(preset, given) if infer else {})})
    sources = {key: given[key] for key in SOURCE_SPLITS if given.get(key)}
    if dataset is None and not sources:
        return cfg
    from augintae_tf.data import dataset_splits

    chosen = {}
    for key, value in sources.items():  # --novel NAME / --held-out NAME: that dataset's split
        if SOURCE_SPLITS[key] not in given:
            chosen[SOURCE_SPLITS[key]] = held_out_split(dataset_splits(value))
    if dataset is None:
        return load_config(preset, {**chosen, **named, **sets})
    shape = {}
    if infer:
        shape, seen = data_shape(dataset, config_path, given)
        preset = config_path or preset_for_dataset(dataset, channels=shape["data.channels"])
        if echo:
            echo(f"data: {seen}")
    if echo and recipe and config_path is None:
        echo(f"recipe: {preset}: {RECIPE_LINES.get(preset, f'the preset made for {dataset}')}")
    named = {**dataset_overrides(preset, dataset, dataset_splits(dataset)), **chosen, **shape,
             **named}
    return load_config(preset, {**named, **sets})


# The config fields naming another source of images, and the split field read with each.
SOURCE_SPLITS = {"data.novel_dataset": "data.novel_split", "data.test_dataset": "data.test_split"}


def _any_size(preset: str, given: dict) -> dict:
    """``{"data.image_size": S}`` with an S the chosen model accepts, while the real one is not
    known yet (nothing when it is given)."""
    if "data.image_size" in given:
        return {}
    return {"data.image_size": trainable_sizes(*model_choice(preset, given))[-1]}


def data_shape(dataset: str, config_path: str | None, given: dict) -> tuple[dict, str]:
    """(``{"data.image_size", "data.channels"}``, what was seen) for training on ``dataset``:
    the given values, else the data's own: a folder's channels (3 when a sampled file has
    colour) and the largest size the model trains at that is no larger than the short side of
    its smallest image (never upscaled); a registered dataset's served size and channels.  Data
    smaller than any size the model takes is a one-line ConfigError."""
    from pathlib import Path

    from augintae_tf.data.folder import look_at_folder
    from augintae_tf.data.registry import resolve

    target = resolve(dataset)
    if isinstance(target, Path):
        look = look_at_folder(target)
        side, channels, seen = look.side, look.channels, f"{dataset} holds {look.describe()}"
    else:
        side, channels = target.image_size, target.channels
        seen = f"{dataset} is served at {side}x{side}x{channels}"
    channels = int(given.get("data.channels", channels))
    size = given.get("data.image_size")
    if size is None:
        preset = config_path or preset_for_dataset(dataset, channels=channels)
        model, backbone = model_choice(preset, given)
        sizes = trainable_sizes(model, backbone)
        fitting = [s for s in sizes if s <= side]
        if not fitting:
            shown = ", ".join(map(str, sizes[:6])) + (", ..." if len(sizes) > 6 else "")
            raise ConfigError(f"{dataset}: its smallest images are {side} px on the short side, "
                              f"smaller than any size model {model} trains at ({shown}); pass "
                              "--image-size to upscale them")
        size = fitting[-1]
    seen += f" -> {size}x{size}x{channels} (--image-size / --channels change it)"
    return {"data.image_size": int(size), "data.channels": channels}, seen


def option_name(key: str) -> str:
    """The named option that sets config ``key`` (``train.batch_size`` -> ``--batch-size``)."""
    special = {"model.name": "--model", "train.jit": "--jit/--no-jit",
               "train.keep_checkpoints": "--keep", "data.novel_dataset": "--novel",
               "data.test_dataset": "--held-out"}
    return special.get(key, "--" + key.partition(".")[2].replace("_", "-"))
