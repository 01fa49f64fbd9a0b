"""The config tree: one dataclass per section (``data``, ``augment``, ``model``, ``train``), the
single source of truth for a run, and its validation.

Every validation error is one line that names the field, the bad value and what is allowed,
raised as :class:`~augintae_tf.errors.ConfigError`.  The ``model`` section is the chosen model's
own dataclass (:mod:`augintae_tf.config.model_table`).  TensorFlow-free.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from augintae_tf.atomic import write_text
from augintae_tf.config.choices import (BACKBONES, FILL_MODES, IMAGE_SIDES, JIT_MODES, PRECISIONS,
                                        STRATEGIES, auto_backbone, backbone_expects,
                                        backbone_sizes, require)
from augintae_tf.config.model_sections import ModelConfig
from augintae_tf.config.model_table import as_section, model_names, model_row, section_class


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
    precision: str = "auto"  # resolved once by training (augintae_tf/models/precision.py)
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
        write_text(path, self.to_yaml(), what="a config")

    @property
    def backbone(self) -> str:
        """The concrete backbone name (``auto`` resolved from the image size)."""
        if self.model.backbone != "auto":
            return self.model.backbone
        return auto_backbone(self.data.image_size)


SECTIONS = {"data": DataConfig, "augment": AugmentConfig, "model": ModelConfig, "train": TrainConfig}


def validate(cfg: Config) -> Config:
    """Check every field; raise ConfigError with one line naming the first bad one."""
    d, a, m, t = cfg.data, cfg.augment, cfg.model, cfg.train
    require(bool(d.dataset), "data.dataset", d.dataset, "a dataset name or a folder path")
    low, high = IMAGE_SIDES
    require(low <= d.image_size <= high, "data.image_size", d.image_size,
            f"an integer in [{low}, {high}]")
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
    require(m.name in model_names(), "model.name", m.name, "one of " + ", ".join(model_names()))
    cfg.model = m = as_section(m)
    backbones = ("auto", *BACKBONES)
    require(m.backbone in backbones, "model.backbone", m.backbone, "one of " + ", ".join(backbones))
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
    sizes = model_row(m.name).image_sizes  # a model with its own networks (e.g. fastgan)
    if sizes is not None:
        require(d.image_size in sizes, "data.image_size", d.image_size,
               f"one of {', '.join(map(str, sizes))} for model {m.name}")
    else:
        require(d.image_size in backbone_sizes(cfg.backbone), "data.image_size", d.image_size,
               f"{backbone_expects(cfg.backbone)} for the {cfg.backbone} backbone")
    return cfg


# Fields that say how a run is recorded, not what it computes: a resume may change them.
RESUMABLE_CHANGES = ("train.snap", "train.keep_checkpoints")


def config_diff(old: Config, new: Config) -> list[str]:
    """``["train.epochs: 2 -> 5", ...]`` for every field that differs."""
    a, b = old.to_dict(), new.to_dict()
    return [f"{section}.{name}: {a[section].get(name)!r} -> {b[section].get(name)!r}"
            for section in a for name in dict.fromkeys([*a[section], *b[section]])
            if a[section].get(name) != b[section].get(name)]
