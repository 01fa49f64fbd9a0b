"""A run's config from a command's options and its data: the one place ``train``,
``augment-preview`` and ``export-seeds`` turn ``--config``, ``--dataset``, named options and
``--set`` overrides into a validated :class:`~augintae_tf.config.schema.Config`.

Preset -> what the data implies -> named options -> ``--set`` overrides, then one
:func:`~augintae_tf.config.loading.load_config`.  What the data implies: a ``dataset`` the preset
was not written for (a folder, a dataset without a preset) gets its own splits
(:func:`~augintae_tf.config.data_defaults.dataset_overrides`), its image size and channels from
the data unless given (:func:`data_shape`), and, without ``--config``, the recommended recipe for
its channels.  TensorFlow-free: the data is asked through ``data``
(:class:`DataFacts`, e.g. :mod:`augintae_tf.data.facts`), which reads headers, not images.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol

from augintae_tf.config.data_defaults import (RECIPE_LINES, dataset_overrides, held_out_split,
                                              model_choice, preset_for_dataset)
from augintae_tf.config.model_table import trainable_sizes
from augintae_tf.config.files import preset_dataset
from augintae_tf.config.loading import load_config, parse_overrides
from augintae_tf.config.schema import Config
from augintae_tf.errors import ConfigError


class DataFacts(Protocol):
    """What the resolver asks of a dataset (name or folder) before anything is read."""

    def dataset_splits(self, dataset: str) -> tuple[str, ...]:
        """Its split names."""

    def dataset_shape(self, dataset: str) -> tuple[int, int, str]:
        """(short side of its smallest images, channels, one line on what was seen)."""


# The config fields naming another source of images, and the split field read with each.
SOURCE_SPLITS = {"data.novel_dataset": "data.novel_split", "data.test_dataset": "data.test_split"}

# The named options whose name is not ``--FIELD`` (train.batch_size -> --batch-size).
OPTION_NAMES = {"model.name": "--model", "train.jit": "--jit/--no-jit",
                "train.keep_checkpoints": "--keep", "data.novel_dataset": "--novel",
                "data.test_dataset": "--held-out"}


def option_name(key: str) -> str:
    """The named option that sets config ``key`` (``train.batch_size`` -> ``--batch-size``)."""
    return OPTION_NAMES.get(key, "--" + key.partition(".")[2].replace("_", "-"))


def resolve_config(data: DataFacts, config_path: str | None = None, dataset: str | None = None,
                   image_size: int | None = None, channels: str | int | None = None,
                   data_dir: str | None = None, overrides: tuple[str, ...] = (),
                   fields: Mapping[str, Any] | None = None,
                   echo: Callable[[str], Any] | None = None, recipe: bool = True) -> Config:
    """The validated config of a run (module doc), :func:`load_config` called once.

    ``fields`` maps dotted config keys to the values of other named options (``None``: not
    given); a named option and a ``--set`` of the same key are a one-line ConfigError.
    ``echo`` gets one line on what was seen of the data when its shape is inferred and (with
    ``recipe``) one on the recipe chosen without ``config_path``."""
    named = {"data.dataset": dataset, "data.image_size": image_size, "data.channels": channels,
             "data.data_dir": data_dir, **(fields or {})}
    named = {key: value for key, value in named.items() if value is not None}
    sets = parse_overrides(overrides)
    for key in named.keys() & sets.keys():
        raise ConfigError(f"{option_name(key)} {named[key]} and --set {key}={sets[key]} both set "
                          f"{key}; give it once")
    given = {**named, **sets}
    implied = {}  # --novel NAME / --held-out NAME: that dataset's held-out split
    for key, split_key in SOURCE_SPLITS.items():
        if given.get(key) and split_key not in given:
            implied[split_key] = held_out_split(data.dataset_splits(given[key]))
    preset = config_path or preset_for_dataset(dataset, channels=int(given.get("data.channels", 1)))
    if dataset is not None and preset_dataset(preset) != dataset:
        if not ("data.image_size" in given and "data.channels" in given):
            shape, seen = data_shape(data, dataset, config_path, given)
            preset = config_path or preset_for_dataset(dataset, channels=shape["data.channels"])
            implied.update(shape)
            if echo:
                echo(f"data: {seen}")
        implied = {**dataset_overrides(preset, dataset, data.dataset_splits(dataset)), **implied}
    if echo and recipe and dataset is not None and config_path is None:
        echo(f"recipe: {preset}: {RECIPE_LINES.get(preset, f'the preset made for {dataset}')}")
    return load_config(preset, {**implied, **given})


def data_shape(data: DataFacts, dataset: str, config_path: str | None, given: Mapping[str, Any]
               ) -> tuple[dict, str]:
    """(``{"data.image_size", "data.channels"}``, what was seen) for training on ``dataset``:
    the given values, else the data's own (:meth:`DataFacts.dataset_shape`): its channels and
    the largest size the model trains at (:func:`trainable_sizes`) that is no larger than the
    short side of its smallest image (never upscaled).  Data smaller than any size the model
    takes is a one-line ConfigError."""
    side, channels, seen = data.dataset_shape(dataset)
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
