"""What a run defaults to for the data it is given: the preset (``train`` without ``--config``,
``train --dataset D``), the splits of another dataset trained with a preset, the model a preset
chooses (what a folder's size is inferred for: ``model_table.trainable_sizes``) and the line
``train`` prints about the recipe it chose.  TensorFlow-free;
:func:`augintae_tf.config.resolve.resolve_config` applies them.
"""
from __future__ import annotations

from typing import Any, Mapping

from augintae_tf.config.files import preset_names, preset_section, read_preset
from augintae_tf.config.model_sections import ModelConfig

# What `augintae-tf train` uses without --config: the paper's glyphs recipe plus the levers that
# measured better at the same budget (presets/recommended.yaml; benchmarks/fewshot_quality.py).
DEFAULT_PRESET = "recommended"
# What `train --dataset D` uses for 3-channel data without a preset of its own: the same levers
# on the cifar10 preset (presets/recommended-rgb.yaml).
DEFAULT_RGB_PRESET = "recommended-rgb"


def preset_for_dataset(dataset: str | None, channels: int = 1) -> str:
    """The preset whose values suit ``dataset``: the default preset for its own dataset (glyphs ->
    recommended), else the one that trains on it (``celeb_a`` -> ``celeba``, ``mnist`` ->
    ``mnist``), else the recommended recipe for its channels (``recommended`` for 1,
    ``recommended-rgb`` for 3)."""
    if dataset is None or dataset == (read_preset(DEFAULT_PRESET).get("data") or {}).get("dataset"):
        return DEFAULT_PRESET
    names = preset_names()
    training_set = {name: (read_preset(name).get("data") or {}).get("dataset") for name in names}
    if training_set.get(dataset) == dataset:
        return dataset
    for name in names:
        if training_set[name] == dataset:
            return name
    return DEFAULT_PRESET if channels == 1 else DEFAULT_RGB_PRESET


def dataset_overrides(preset: str, dataset: str, splits: tuple[str, ...]) -> dict[str, Any]:
    """Overrides for training on ``dataset`` with another dataset's preset (a folder, kmnist...).

    The preset's augmentation, model and training values carry over; its splits and novel domain
    belong to its own dataset, so they are replaced by ``dataset``'s own (``splits``: the split
    names ``dataset`` has, e.g. from the data registry).
    """
    if (read_preset(preset).get("data") or {}).get("dataset") == dataset:
        return {}
    held_out = held_out_split(splits)
    return {"data.train_split": "train" if "train" in splits else splits[0],
            "data.test_split": held_out, "data.novel_split": held_out, "data.novel_dataset": None}


def held_out_split(splits: tuple[str, ...]) -> str:
    """The split of a dataset that holds images set aside from training: test, else validation,
    else the only one (an image folder serves its one set of images under every name)."""
    return next((s for s in ("test", "validation") if s in splits), splits[0])


# The one line `train --dataset D` prints about a recipe it chose.
RECIPE_LINES = {
    DEFAULT_PRESET: "for 1-channel images: AugIntAE on its target with the local-edit sampler, "
                    "L1 loss, latent 128, constant lr, half the paper's affine ranges (measured "
                    "on glyphs and real digits: README, \"Recommended recipe\"); --config glyphs "
                    "for the paper's recipe",
    DEFAULT_RGB_PRESET: "for colour images: the same levers (AugIntAE with local-edit, L1 loss, "
                        "constant lr, half the affine ranges; measured on grayscale images, not "
                        "yet on colour) on the cifar10 preset (colour jitter, latent 512); "
                        "--config cifar10 for the paper's recipe",
}


def model_choice(preset: str, overrides: Mapping[str, Any]) -> tuple[str, str]:
    """(model name, backbone) that ``preset`` with ``overrides`` selects, read without building
    (or validating) the config: what
    :func:`augintae_tf.config.model_table.trainable_sizes` needs before the size is known."""
    model = preset_section(preset, "model")
    name = overrides.get("model.name") or model.get("name") or ModelConfig.name
    return str(name), str(overrides.get("model.backbone") or model.get("backbone") or "auto")

