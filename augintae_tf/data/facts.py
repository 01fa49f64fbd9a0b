"""What a dataset is before it is read: its split names and the size and channels it comes in,
as :func:`augintae_tf.config.resolve.resolve_config` asks for them (its ``data`` argument).
TensorFlow-free: a folder is looked at through its files' headers and reduced pixels."""
from __future__ import annotations

from pathlib import Path

from .folder import look_at_folder
from .registry import resolve


def dataset_splits(dataset: str) -> tuple[str, ...]:
    """The split names of a registered dataset; ``("train",)`` for an image folder, which serves
    the same images under any split name."""
    target = resolve(dataset)
    return ("train",) if isinstance(target, Path) else target.splits


def dataset_shape(dataset: str) -> tuple[int, int, str]:
    """(short side, channels, what was seen) of ``dataset``: a folder's smallest usable image
    and its colour (3 when a sampled file has colour, else 1), or a registered dataset's served
    size and channels."""
    target = resolve(dataset)
    if isinstance(target, Path):
        look = look_at_folder(target)
        return look.side, look.channels, f"{dataset} holds {look.describe()}"
    side = target.image_size
    return side, target.channels, f"{dataset} is served at {side}x{side}x{target.channels}"
