"""Options shared by several commands: the integer type, `--out FILE`, the data options and the
config they resolve to (:mod:`augintae_tf.config.resolve`)."""
from __future__ import annotations

import functools
import os

import click

from augintae_tf.config.resolve import resolve_config
from augintae_tf.config.schema import Config
from augintae_tf.config.values import INT_MAX, SEED_RANGE, check_int
from augintae_tf.data import facts
from augintae_tf.images import image_format


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
    """:func:`~augintae_tf.config.resolve.resolve_config` of :func:`data_options` and the
    command's other named options (``fields``: dotted config keys -> values, None: not given),
    the data asked through :mod:`augintae_tf.data.facts`."""
    return resolve_config(facts, config_path, dataset, image_size, channels, data_dir, overrides,
                          fields, echo, recipe)
