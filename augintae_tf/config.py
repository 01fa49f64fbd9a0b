"""Configuration: one dataclass tree is the single source of truth for a run.

A run's config is built from a YAML preset (``configs/NAME.yaml`` or any YAML path), then dotted
overrides (``train.epochs=5``), then validated.  Every validation error is one line that names the
field, the bad value and what is allowed, raised as :class:`ConfigError`.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from augintae_tf.configfile import parse_yaml, read_yaml
from augintae_tf.errors import ConfigError
from augintae_tf.sections import (PER_MODEL_DEFAULTS, ModelConfig, as_section,  # noqa: F401
                                  require, section_class, section_names)
# (ModelConfig, require: what sections extend)

BACKBONES = ("auto", "infogan", "dcgan", "dcgan128")
FILL_MODES = ("constant", "reflect")
STRATEGIES = ("auto", "none", "mirrored", "multi-worker")
# auto: mixed_bfloat16 where the hardware computes in bf16 and the model measured the same in
# it, else float32 (augintae_tf/precision.py)
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
JIT_MODES = ("auto", "on", "off")
# What `augintae-tf train` uses without --config: the paper's glyphs recipe plus the levers that
# measured better at the same budget (configs/recommended.yaml; benchmarks/fewshot_quality.py).
DEFAULT_PRESET = "recommended"
# What `train --dataset D` uses for 3-channel data without a preset of its own: the same levers
# on the cifar10 preset (configs/recommended-rgb.yaml).
DEFAULT_RGB_PRESET = "recommended-rgb"


@dataclass
class DataConfig:
    dataset: str = "glyphs"  # a name from `augintae-tf datasets`, or a folder of images
    image_size: int = 28
    channels: int = 1
    train_split: str = "train"  # what the model trains on
    test_split: str = "validation"  # held-out images of the training domain (reconstruction)...
    # ...of test_dataset (None: the training dataset; a folder serves its one set of images under
    # every split name, so without `train --held-out PATH` they are the training images)
    test_dataset: str | None = None
    novel_dataset: str | None = None  # the novel domain; None = the same dataset...
    novel_split: str = "test"  # ...at this split (glyphs/omniglot: held-out alphabets)
    data_dir: str | None = None  # TFDS data_dir with already prepared data
    shuffle_buffer: int = 10_000
    cache: bool = True
    limit: int | None = None  # use only the first N examples of a split (smoke tests)
    # Class selection and the Pegasus recipe (augintae_tf/data/classes.py): keep these classes
    # (names or integer labels; relabelled 0..k-1 in this order), equal images per class in every
    # training batch, and per-class extra augmentation {class: [p_crop, crop_min, p_rot90]}.
    classes: list[str] | None = None
    balanced: bool = False
    class_augment: dict[str, list[float]] | None = None


@dataclass
class AugmentConfig:
    """Ranges are symmetric around identity: rotation 20 means U(-20, 20) degrees."""

    rotation: float = 20.0  # degrees
    translation: float = 4.0  # pixels, at the configured image size
    scale_min: float = 0.8
    scale_max: float = 1.2
    shear: float = 6.0  # degrees
    brightness: float = 0.0  # factor U(1 - b, 1 + b); 0 disables
    contrast: float = 0.0  # factor U(1 - c, 1 + c)
    saturation: float = 0.0  # factor U(1 - s, 1 + s)
    hue: float = 0.0  # shift U(-h, h), as a fraction of the hue circle
    fill: str = "constant"  # constant (zeros) | reflect (symmetric padding)


@dataclass
class TrainConfig:
    epochs: int = 100
    batch_size: int = 128  # global batch size (split across replicas under a strategy)
    lr: float = 1e-3
    # Non-adversarial models divide the lr by 10 at these fractions of training (epochs 35, 70 of 100).
    lr_drops: list[float] = field(default_factory=lambda: [0.35, 0.7])
    seed: int = 0
    steps_per_epoch: int | None = None  # None = one pass over the training split
    # A budget in optimizer steps (images seen / batch_size) that replaces ``epochs``, so runs on
    # small and large datasets compare; the lr drops stay at their fractions of it.
    steps: int | None = None
    # Checkpoints (callbacks.Checkpointer): first and last epoch, between them every `snap` epochs
    # or (None) 5 minutes after the last: small data trains an epoch in seconds, writes 160 MB.
    snap: int | None = None
    keep_checkpoints: int = 3  # the newest K are kept, older ones removed
    strategy: str = "auto"
    precision: str = "auto"  # resolved once by training (augintae_tf/precision.py)
    jit: str = "auto"


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # the default model's own section (ModelConfig.name's), so its fields can be set at once
    model: ModelConfig = field(default_factory=lambda: section_class(ModelConfig.name)())
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | os.PathLike) -> None:
        from augintae_tf.atomic import write_text  # atomic imports errors, which imports this

        write_text(path, self.to_yaml(), what="a config")

    @property
    def backbone(self) -> str:
        """The concrete backbone name (``auto`` resolved from the image size)."""
        if self.model.backbone != "auto":
            return self.model.backbone
        if self.data.image_size <= 32:
            return "infogan"
        return "dcgan" if self.data.image_size <= 64 else "dcgan128"


SECTIONS = {"data": DataConfig, "augment": AugmentConfig, "model": ModelConfig, "train": TrainConfig}


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("augintae_tf.configs").iterdir()
                  if p.name.endswith(".yaml"))


def preset_for_dataset(dataset: str | None, channels: int = 1) -> str:
    """The preset whose values suit ``dataset``: the default preset for its own dataset (glyphs ->
    recommended), else the one that trains on it (``celeb_a`` -> ``celeba``, ``mnist`` ->
    ``mnist``), else the recommended recipe for its channels (``recommended`` for 1,
    ``recommended-rgb`` for 3)."""
    if dataset is None or dataset == (_read_preset(DEFAULT_PRESET).get("data") or {}).get("dataset"):
        return DEFAULT_PRESET
    names = preset_names()
    training_set = {name: (_read_preset(name).get("data") or {}).get("dataset") for name in names}
    if training_set.get(dataset) == dataset:
        return dataset
    for name in names:
        if training_set[name] == dataset:
            return name
    return DEFAULT_PRESET if channels == 1 else DEFAULT_RGB_PRESET


def preset_section(name_or_path: str, section: str) -> dict[str, Any]:
    """One section of a preset (or YAML config) as written, unvalidated (empty if absent)."""
    return _read_preset(name_or_path).get(section) or {}


def preset_dataset(name_or_path: str) -> str | None:
    """The dataset a preset (or YAML config) trains on (``data.dataset``), or None."""
    return preset_section(name_or_path, "data").get("dataset")


def dataset_overrides(preset: str, dataset: str, splits: tuple[str, ...]) -> dict[str, Any]:
    """Overrides for training on ``dataset`` with another dataset's preset (a folder, kmnist...).

    The preset's augmentation, model and training values carry over; its splits and novel domain
    belong to its own dataset, so they are replaced by ``dataset``'s own (``splits``: the split
    names ``dataset`` has, e.g. from the data registry).
    """
    if (_read_preset(preset).get("data") or {}).get("dataset") == dataset:
        return {}
    held_out = held_out_split(splits)
    return {"data.train_split": "train" if "train" in splits else splits[0],
            "data.test_split": held_out, "data.novel_split": held_out, "data.novel_dataset": None}


def held_out_split(splits: tuple[str, ...]) -> str:
    """The split of a dataset that holds images set aside from training: test, else validation,
    else the only one (an image folder serves its one set of images under every name)."""
    return next((s for s in ("test", "validation") if s in splits), splits[0])


def _read_preset(name_or_path: str) -> dict[str, Any]:
    path = Path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or (path.exists() and not path.is_dir()):
        if not path.exists():
            raise ConfigError(f"config file {name_or_path!r} does not exist")
        data = read_yaml(path, f"config {name_or_path!r}")
    else:
        if name_or_path not in preset_names():
            raise ConfigError(f"preset {name_or_path!r} is unknown; presets: {', '.join(preset_names())}"
                              " (or give a path to a .yaml file)")
        text = resources.files("augintae_tf.configs").joinpath(f"{name_or_path}.yaml").read_text()
        data = parse_yaml(text, f"config {name_or_path!r}")
    if not isinstance(data, dict):
        raise ConfigError(f"config {name_or_path!r} must be a mapping of sections {sorted(SECTIONS)}")
    return data


# ---------------------------------------------------------------- integers
INT_MAX = 2 ** 31 - 1  # every integer option and field fits TensorFlow's int32 (sizes, counts)
SEED_RANGE = (0, INT_MAX)  # seeds: non-negative, as NumPy's generators require
# Integer config fields checked against their range as they are read (the others: at most
# INT_MAX here, their lower bounds in validate()).
INT_RANGES = {"train.seed": SEED_RANGE, "data.shuffle_buffer": (1, INT_MAX)}


def check_int(value: Any, low: int | None = None, high: int | None = INT_MAX) -> int:
    """The one integer check of every CLI option (:class:`augintae_tf.cli.options.Int`) and
    every integer config field (``--set``, a YAML file): ``value`` (an int, or a string of
    one) as an int in ``[low, high]``, else a ValueError saying why in a phrase (the caller
    names the option or field)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not an integer")
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{value!r} is not an integer") from None
    high = INT_MAX if high is None else high
    if not (low is None or low <= number) or not number <= high:
        digits = str(number)
        shown = digits if len(digits) <= 24 else f"{digits[:12]}... ({len(digits)} digits)"
        wanted = f"an integer <= {high}" if low is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{shown} is out of range; expected {wanted}")
    return number


def _coerce(key: str, value: Any, default: Any, annotation: str) -> Any:
    """Convert ``value`` (from YAML or a CLI string) to the field's type, or raise ConfigError."""
    if value is None:
        if "None" in annotation:
            return None
        raise ConfigError(f"{key}: null is not allowed; expected {annotation}")
    if isinstance(value, str) and "None" in annotation and value.lower() in ("none", "null", ""):
        return None
    try:
        if annotation.startswith("bool"):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return value.lower() in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise ValueError
            return value
        if annotation.startswith("int"):
            try:
                return check_int(value, *INT_RANGES.get(key, (None, INT_MAX)))
            except ValueError as exc:
                if "out of range" not in str(exc):
                    raise
                raise ConfigError(f"{key}: {exc}") from None
        if annotation.startswith("float"):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if annotation.startswith("list[str]"):
            if isinstance(value, str):
                value = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
            if not isinstance(value, (list, tuple)):
                raise ValueError
            return [str(v) for v in value]
        if annotation.startswith("dict[str, list[float]]"):
            if not isinstance(value, dict):
                raise ValueError
            return {str(k): [float(x) for x in v] for k, v in value.items()}
        if annotation.startswith("list[float]"):
            if isinstance(value, str):
                value = [v for v in value.strip("[]").split(",") if v.strip()]
            return [float(v) for v in value]
        if annotation.startswith("str"):
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value)
    except ConfigError:
        raise
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: {value!r} is not a valid {annotation.split(' |')[0]}") from None
    return value


def _apply(cfg: Config, key: str, value: Any) -> None:
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name:
        raise ConfigError(f"{key}: unknown config key; keys look like SECTION.FIELD with SECTION in "
                          f"{', '.join(SECTIONS)}")
    sub = getattr(cfg, section)
    fields = {f.name: f for f in dataclasses.fields(sub)}
    if name not in fields:
        owner = f"model {sub.name!r}" if section == "model" else section
        raise ConfigError(f"{key}: unknown field; {owner} has: {', '.join(fields)}")
    f = fields[name]
    # a string under `from __future__ import annotations`, else the type itself (float, int | None)
    annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    setattr(sub, name, _coerce(key, value, getattr(sub, name), annotation))
    if key == "model.name":  # the model's own section: its extra fields, with their defaults
        cfg.model = as_section(sub)


def validate(cfg: Config) -> Config:
    """Check every field; raise ConfigError with one line naming the first bad one."""
    d, a, m, t = cfg.data, cfg.augment, cfg.model, cfg.train
    require(bool(d.dataset), "data.dataset", d.dataset, "a dataset name or a folder path")
    require(8 <= d.image_size <= 1024, "data.image_size", d.image_size, "an integer in [8, 1024]")
    require(d.channels in (1, 3), "data.channels", d.channels, "1 or 3")
    require(d.shuffle_buffer >= 1, "data.shuffle_buffer", d.shuffle_buffer, "an integer >= 1")
    require(d.limit is None or d.limit >= 1, "data.limit", d.limit, "null or an integer >= 1")
    require(d.classes is None or len(d.classes) >= 1, "data.classes", d.classes,
           "null or a non-empty list of class names or labels")
    for name, values in (d.class_augment or {}).items():
        require(d.classes is not None and name in d.classes, "data.class_augment", name,
               "a class listed in data.classes")
        require(len(values) == 3 and 0 <= values[0] <= 1 and 0 < values[1] <= 1
               and 0 <= values[2] <= 0.5, f"data.class_augment.{name}", values,
               "[p_crop in [0, 1], crop_min in (0, 1], p_rot90 in [0, 0.5] per direction]")
    require(0 <= a.rotation <= 180, "augment.rotation", a.rotation, "degrees in [0, 180]")
    require(0 <= a.translation <= d.image_size, "augment.translation", a.translation,
           f"pixels in [0, data.image_size={d.image_size}]")
    require(0 < a.scale_min <= a.scale_max, "augment.scale_min", a.scale_min,
           f"a value in (0, augment.scale_max={a.scale_max}]")
    require(0 <= a.shear < 90, "augment.shear", a.shear, "degrees in [0, 90)")
    for name in ("brightness", "contrast", "saturation"):
        require(0 <= getattr(a, name) < 1, f"augment.{name}", getattr(a, name), "a value in [0, 1)")
    require(0 <= a.hue <= 0.5, "augment.hue", a.hue, "a fraction of the hue circle in [0, 0.5]")
    require(a.fill in FILL_MODES, "augment.fill", a.fill, " or ".join(FILL_MODES))
    require(m.name in section_names(), "model.name", m.name, "one of " + ", ".join(section_names()))
    cfg.model = m = as_section(m)
    require(m.backbone in BACKBONES, "model.backbone", m.backbone, "one of " + ", ".join(BACKBONES))
    require(1 <= m.latent_dim <= 8192, "model.latent_dim", m.latent_dim, "an integer in [1, 8192]")
    require(0 < m.width <= 4, "model.width", m.width, "a channel multiplier in (0, 4]")
    require(t.epochs >= 1, "train.epochs", t.epochs, "an integer >= 1")
    require(t.batch_size >= 2, "train.batch_size", t.batch_size, "an integer >= 2 (pairs are drawn)")
    require(0 < t.lr < 1, "train.lr", t.lr, "a learning rate in (0, 1)")
    require(all(0 < f < 1 for f in t.lr_drops), "train.lr_drops", t.lr_drops,
           "fractions of training in (0, 1)")
    require(t.steps_per_epoch is None or t.steps_per_epoch >= 1, "train.steps_per_epoch",
           t.steps_per_epoch, "null or an integer >= 1")
    require(t.steps is None or t.steps >= 1, "train.steps", t.steps,
           "null or an integer >= 1 (optimizer steps; overrides train.epochs)")
    require(t.snap is None or t.snap >= 1, "train.snap", t.snap,
            "null (auto: about every 5 minutes) or an integer >= 1 (epochs between checkpoints)")
    require(t.keep_checkpoints >= 1, "train.keep_checkpoints", t.keep_checkpoints, "an integer >= 1")
    require(t.strategy in STRATEGIES, "train.strategy", t.strategy, "one of " + ", ".join(STRATEGIES))
    require(t.precision in PRECISIONS, "train.precision", t.precision, "one of " + ", ".join(PRECISIONS))
    require(t.jit in JIT_MODES, "train.jit", t.jit, "one of " + ", ".join(JIT_MODES))
    m.check()
    sizes = getattr(m, "IMAGE_SIZES", None)  # a model with its own networks (e.g. fastgan)
    if sizes is not None:
        require(d.image_size in sizes, "data.image_size", d.image_size,
               f"one of {', '.join(map(str, sizes))} for model {m.name}")
    elif cfg.backbone == "infogan":
        require(d.image_size % 4 == 0, "data.image_size", d.image_size,
               "a multiple of 4 for the infogan backbone")
    else:
        require(d.image_size in (64, 128), "data.image_size", d.image_size,
               f"64 or 128 for the {cfg.backbone} backbone")
    return cfg


# Fields that say how a run is recorded, not what it computes: a resume may change them.
RESUMABLE_CHANGES = ("train.snap", "train.keep_checkpoints")


def config_diff(old: Config, new: Config) -> list[str]:
    """``["train.epochs: 2 -> 5", ...]`` for every field that differs."""
    a, b = old.to_dict(), new.to_dict()
    return [f"{section}.{name}: {a[section].get(name)!r} -> {b[section].get(name)!r}"
            for section in a for name in dict.fromkeys([*a[section], *b[section]])
            if a[section].get(name) != b[section].get(name)]


def from_dict(data: Mapping[str, Any], origin: str = "config") -> Config:
    cfg = Config()
    for section, values in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"{origin}: unknown section {section!r}; sections: {', '.join(SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: section {section!r} must be a mapping of fields")
        # model.name first: it decides which fields the model section has
        for name, value in sorted(values.items(), key=lambda item: item[0] != "name"):
            _apply(cfg, f"{section}.{name}", value)
    return cfg


def load_config(preset: str | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Build a validated config: preset (name or YAML path), then ``{"section.field": value}`` overrides.

    Override values may be strings as typed on a command line (``"5"``, ``"null"``, ``"0.35,0.7"``).
    """
    name = preset or DEFAULT_PRESET
    raw = _read_preset(name)
    cfg = from_dict(raw, origin=name)
    overrides = overrides or {}
    for key, value in sorted(overrides.items(), key=lambda item: item[0] != "model.name"):
        _apply(cfg, key, value)
    _apply_model_train_defaults(cfg, raw, overrides)
    _reset_preset_model_choices(cfg, raw, overrides)
    return validate(cfg)


def _reset_preset_model_choices(cfg: Config, raw: Mapping[str, Any],
                                overrides: Mapping[str, Any]) -> None:
    """A preset's per-model choices (``PER_MODEL_DEFAULTS``, e.g. ``model.target``) belong to the
    model the preset names: with another model chosen (``--model``), each takes that model's
    default unless the user set it.  The recommended preset trains ``ae`` on the ``blend``
    target; ``--model augintae`` on it must still train the paper's ``augmentation`` target."""
    preset_model = (raw.get("model") or {}).get("name")
    if preset_model is None or preset_model == cfg.model.name:
        return
    defaults = {f.name: f.default for f in dataclasses.fields(type(cfg.model))}
    for name in PER_MODEL_DEFAULTS:
        if name in defaults and f"model.{name}" not in overrides:
            setattr(cfg.model, name, defaults[name])


def _apply_model_train_defaults(cfg: Config, raw: Mapping[str, Any],
                                overrides: Mapping[str, Any]) -> None:
    """A model section's ``PRESET_DEFAULTS`` (``{"train.lr": ...}``, e.g. FastGAN's lr, batch
    size and noise size) replace the preset's values, unless the preset names that model itself
    or the user set them."""
    defaults = getattr(section_class(cfg.model.name), "PRESET_DEFAULTS", {})
    if (raw.get("model") or {}).get("name") == cfg.model.name:
        return
    for key, value in defaults.items():
        if key not in overrides:
            section, _, field_name = key.partition(".")
            setattr(getattr(cfg, section), field_name, value)


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["train.epochs=5", ...]`` -> ``{"train.epochs": "5"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like SECTION.FIELD=VALUE")
        out[key.strip()] = value.strip()
    return out
