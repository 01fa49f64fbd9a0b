"""Every dataset augintae-tf knows by name, and the error type of the data package.

The registry is static on purpose: listing datasets (``augintae-tf datasets``) must not import
TensorFlow Datasets builders or touch the network.  ``image_size`` and ``channels`` are the
resolution the dataset is served at by default (Omniglot is stored at 105x105 RGB by TFDS but
used at 28x28 grayscale, CelebA is cropped and served at 128x128); any size and channel count can
still be requested from :func:`augintae_tf.data.pipeline.load_split`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from augintae_tf.errors import DataError  # noqa: F401  (augintae_tf.data exports it)


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    image_size: int
    channels: int
    splits: tuple[str, ...]
    source: str  # "tfds" | "embedded" (rendered here) | "package" (data a package ships)
    description: str


_HANDWRITTEN = "white strokes on black"

_DATASETS = (
    DatasetInfo("glyphs", 28, 1, ("train", "validation", "test", "far"), "embedded",
                "characters of 15 writing systems rendered from matplotlib's fonts, offline; "
                "train/validation = 10 background alphabets, test = 5 held-out alphabets, "
                "far = 6 sets of symbols unlike letters (arrows, math, box drawing, shapes...)"),
    DatasetInfo("digits", 28, 1, ("train", "validation", "test"), "package",
                f"real handwritten digits (UCI, 13 writers) shipped with scikit-learn, {_HANDWRITTEN}, "
                "8x8 resized to 28x28; train/validation = digits 0-4, test = the novel digits 5-9"),
    DatasetInfo("patches", 28, 1, ("test",), "package",
                "a far novel domain: 10 classes of real photographs shipped with scikit-image, "
                "non-overlapping 24x24 tiles of 9 textured photos (brick, grass, gravel, coins, "
                "deep field, stain, sign, page, fur) and 100 faces (LFW); test = every class"),
    DatasetInfo("omniglot", 28, 1, ("train", "test", "small1", "small2"), "tfds",
                f"1,623 handwritten characters of 50 alphabets, {_HANDWRITTEN}; train = background "
                "alphabets, test = evaluation alphabets (inverted, resized from 105x105)"),
    DatasetInfo("mnist", 28, 1, ("train", "test"), "tfds", f"handwritten digits, {_HANDWRITTEN}"),
    DatasetInfo("emnist/letters", 28, 1, ("train", "test"), "tfds",
                f"handwritten letters (37 classes), {_HANDWRITTEN}; transposed to upright"),
    DatasetInfo("fashion_mnist", 28, 1, ("train", "test"), "tfds",
                "grayscale clothing items, 10 classes"),
    DatasetInfo("kmnist", 28, 1, ("train", "test"), "tfds",
                f"handwritten Kuzushiji (cursive Japanese), 10 classes, {_HANDWRITTEN}"),
    DatasetInfo("cifar10", 32, 3, ("train", "test"), "tfds", "natural images, 10 classes"),
    DatasetInfo("cifar100", 32, 3, ("train", "test"), "tfds", "natural images, 100 classes"),
    DatasetInfo("celeb_a", 128, 3, ("train", "validation", "test"), "tfds",
                "aligned celebrity faces, central 178x178 crop of 218x178; label = identity"),
    DatasetInfo("stl10", 96, 3, ("train", "test", "unlabelled"), "tfds",
                "natural images, 10 classes (unlabelled split has label -1)"),
)
_BY_NAME = {info.name: info for info in _DATASETS}


def list_datasets() -> list[DatasetInfo]:
    """All registered datasets, the embedded offline default first."""
    return list(_DATASETS)


def resolve(dataset: str) -> DatasetInfo | Path:
    """A registered name -> its DatasetInfo; an existing directory -> its Path (image folder).

    Registered names win over a same-named directory in the working directory; write ``./mnist``
    to mean the folder.
    """
    info = _BY_NAME.get(dataset)
    if info is not None:
        return info
    path = Path(dataset).expanduser()
    if path.is_dir():
        return path
    raise DataError(f"dataset {dataset!r} is neither a registered dataset "
                    f"({', '.join(_BY_NAME)}) nor an existing folder of images")


def check_split(info: DatasetInfo, split: str) -> None:
    """Reject unknown split names early, with the valid ones in the message.

    TFDS slicing (``train[:90%]``) and unions (``train+test``) are accepted for TFDS datasets;
    each part's base name must be a known split.
    """
    parts = split.split("+") if info.source == "tfds" else [split]
    for part in parts:
        base = part.split("[", 1)[0].strip() if info.source == "tfds" else part
        if base not in info.splits:
            raise DataError(f"dataset {info.name!r} has no split {split!r}; splits: "
                            f"{', '.join(info.splits)}")
