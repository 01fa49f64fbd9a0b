"""Options shared by several commands, and how they become a validated Config."""
from __future__ import annotations

import functools

import click

from augintae_tf.config import (INT_MAX, SEED_RANGE, Config, ConfigError, check_int,
                                dataset_overrides, load_config, parse_overrides,
                                preset_for_dataset)


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
# generate --num: its images are written as they are made (augintae_tf.generation.CHUNK at a
# time), so memory does not grow with it; the cap bounds the list of files and one call's time.
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
                       "Default: the preset matching --dataset, else glyphs.")
    @click.option("--dataset", default=None, metavar="NAME_OR_PATH",
                  help="A name from `augintae-tf datasets` or a folder of images.")
    @click.option("--image-size", type=int, default=None, help="Images are resized to this square.")
    @click.option("--channels", type=click.Choice(["1", "3"]), default=None,
                  help="1 (grayscale) or 3 (RGB): images are converted to it.")
    @click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                  help="TFDS data_dir holding already prepared data.")
    @click.option("--set", "overrides", multiple=True, metavar="SECTION.FIELD=VALUE",
                  help="Override any config field, e.g. --set augment.rotation=10 (repeatable).")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def config_from_options(config_path=None, dataset=None, image_size=None, channels=None,
                        data_dir=None, overrides=(), **fields) -> Config:
    """Preset -> named options -> ``--set`` overrides -> validation.

    ``fields`` maps dotted config keys to option values; ``None`` means "not given".
    """
    named = {"data.dataset": dataset, "data.image_size": image_size, "data.channels": channels,
             "data.data_dir": data_dir, **fields}
    named = {key: value for key, value in named.items() if value is not None}
    sets = parse_overrides(overrides)
    for key in named.keys() & sets.keys():
        raise ConfigError(f"{option_name(key)} {named[key]} and --set {key}={sets[key]} both set "
                          f"{key}; give it once")
    preset = config_path or preset_for_dataset(dataset, channels=int(channels or 1))
    if dataset is not None and config_path is None:
        # Check everything that can be checked before the data registry imports TensorFlow.
        load_config(preset, {**named, **sets})
        from augintae_tf.data import dataset_splits

        named = {**dataset_overrides(preset, dataset, dataset_splits(dataset)), **named}
    return load_config(preset, {**named, **sets})


def option_name(key: str) -> str:
    """The named option that sets config ``key`` (``train.batch_size`` -> ``--batch-size``)."""
    special = {"model.name": "--model", "train.jit": "--jit/--no-jit"}
    return special.get(key, "--" + key.partition(".")[2].replace("_", "-"))
