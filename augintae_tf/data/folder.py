"""A folder of image files as a dataset, and seed images for few-shot generation.

Layout: ``DIR/<class>/**/*.png`` gives one class per first-level subfolder (labels follow the
sorted subfolder names); a folder without such subfolders is one class, label 0.  PNG, JPEG, BMP,
GIF (first frame) and WebP are read with Pillow; hidden files and folders are ignored.

Conversion, identical for datasets and seed images:
* palette, 1-bit, CMYK, ... images are converted by Pillow to RGB or grayscale;
* 16-bit grayscale keeps its full range;
* transparency is composited onto black (the background of every dataset here), then dropped;
* the image is centre-cropped to a square, converted to the requested channels and resized by
  :func:`augintae_tf.data.convert.finish`, exactly like the TFDS and glyph sources (imported
  when images are converted: looking at a folder, :func:`look_at_folder`, loads no TensorFlow).

Folders are small, so they are decoded into memory.  What is skipped is named in one line per file
(:func:`augintae_tf.notices.warn`: once per command, however often the folder is read):

* a file that cannot be read or decoded (truncated, not an image, no permission, a dangling link,
  a FIFO...);
* an image whose short side is under :data:`SMALL_FRACTION` of the folder's typical one (the
  median short side of its readable files): a stray thumbnail or 1-pixel file would otherwise set
  the size the folder trains at, or be upscaled many times over.  The median, not the smallest,
  is the folder's size, so a few such files cannot move it.

:func:`look_at_folder` counts only the images that load, and says how many were skipped.

Huge images: a file of more than ``AUGINTAE_MAX_IMAGE_PIXELS`` pixels (default 120 M) is skipped
with a warning naming it, before anything is decoded; a large one is decoded at reduced size where
the format allows (JPEG's ``draft``: a DCT-domain downscale) and box-reduced to at least 4x the
target size before conversion, so memory follows the target size, not the file's.
"""
from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageOps

from augintae_tf import notices

from .registry import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS = "AUGINTAE_MAX_IMAGE_PIXELS", 120_000_000
GENERATED_GRID = "grid.png"  # what `augintae-tf generate` writes beside its images: never a seed
SMALL_FRACTION = 0.5  # images with a short side under this share of the median are skipped


class ImageTooLarge(ValueError):
    """The image has more pixels than the configured limit."""


_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def max_pixels() -> int:
    """The pixel limit: ``$AUGINTAE_MAX_IMAGE_PIXELS`` or the default."""
    raw = os.environ.get(MAX_PIXELS_ENV, "")
    try:
        return int(raw) if raw else DEFAULT_MAX_PIXELS
    except ValueError:
        raise DataError(f"{MAX_PIXELS_ENV}={raw!r} must be an integer number of pixels") from None


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def image_files(root: Path) -> list[Path]:
    """Image files under ``root``, recursively, sorted; hidden files and folders are skipped."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(folder) / f for f in files
                     if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(found)


def scan(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """(files, labels, class names) of an image folder, without decoding anything."""
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a folder")
    classes = [(d.name, files) for d in sorted(root.iterdir())
               if d.is_dir() and not _hidden(d) and (files := image_files(d))]
    if not classes:
        files = image_files(root)
        return files, [0] * len(files), [root.name]
    stray = [f for f in root.iterdir() if f.is_file() and f.name.lower().endswith(IMAGE_EXTENSIONS)]
    if stray:
        notices.warn(f"ignoring {len(stray)} image file(s) directly in {root}: with class "
                     "subfolders every image must be inside one")
    files = [f for _, group in classes for f in group]
    labels = [i for i, (_, group) in enumerate(classes) for _ in group]
    return files, labels, [name for name, _ in classes]


def _open(path: Path) -> Image.Image:
    """The image file opened (its header read, nothing decoded): a regular file only (a FIFO
    would block the open forever; a dangling link fails ``stat``)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(f"{path} is not a regular file")
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, max_pixels() // 2 + 1)
    return Image.open(path)


def header_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header; raises one of _UNREADABLE."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's warnings name no file (see decode)
        with _open(path) as picture:
            return _within_limit(picture.size)


def _within_limit(size: tuple[int, int]) -> tuple[int, int]:
    """``size``, or ImageTooLarge when it has more pixels than :func:`max_pixels`."""
    width, height, limit = *size, max_pixels()
    if width * height > limit:
        raise ImageTooLarge(f"{width}x{height} is {width * height:,} pixels, above the limit of "
                            f"{limit:,} (set {MAX_PIXELS_ENV} to raise it)")
    return size


def _open_reduced(path: Path, size: int | None) -> Image.Image:
    """The decoded image, checked against the pixel limit and reduced towards ``size`` (at least
    4x ``size`` stays, so the final antialiased resize sees enough pixels)."""
    picture = _open(path)
    try:
        _within_limit(picture.size)
    except ImageTooLarge:
        picture.close()
        raise
    if size:
        picture.draft(picture.mode, (4 * size, 4 * size))  # JPEG only; a no-op elsewhere
    picture.load()  # decode now: truncated files fail here, not later
    factor = min(picture.size) // (4 * size) if size else 1
    if factor >= 2:
        picture = picture.reduce(factor)
    return picture


def decode(path: Path, size: int | None = None) -> np.ndarray:
    """Float32 [H, W, 1 or 3] in [0, 1] (reduced towards ``size`` when much larger); raises one
    of _UNREADABLE for a broken or too large file.  Pillow's own warnings (decompression bomb,
    odd palettes, corrupt EXIF) name no file and are dropped; the checks here name it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _decode(path, size)


def _decode(path: Path, size: int | None) -> np.ndarray:
    with _open_reduced(path, size) as picture:
        picture = ImageOps.exif_transpose(picture)  # cameras store the rotation in EXIF
        if picture.mode.startswith("I;16") or picture.mode == "I":
            return np.clip(np.asarray(picture, np.float32) / 65535.0, 0.0, 1.0)[..., None]
        if "A" in picture.mode or "transparency" in picture.info:
            rgba = np.asarray(picture.convert("RGBA"), np.float32) / 255.0
            gray_source = picture.mode in ("LA", "La") or (
                picture.mode == "L" and "transparency" in picture.info)
            rgb = rgba[..., :3] * rgba[..., 3:]  # composite onto black
            return rgb[..., :1] if gray_source else rgb
        if picture.mode in ("1", "L"):
            return np.asarray(picture.convert("L"), np.float32)[..., None] / 255.0
        return np.asarray(picture.convert("RGB"), np.float32) / 255.0


def _skip_unreadable(path: Path, exc: BaseException) -> None:
    notices.warn(f"skipping unreadable image {path}: {exc}", key=("unreadable", str(path)))


def _decode_all(files: Iterable[Path], image_size: int, channels: int, limit: int | None = None,
                strict: bool = False) -> tuple[list[np.ndarray], list[int]]:
    """Decode and convert files in order (until ``limit`` succeed); returns the images and the
    positions of the files they came from.  Unreadable files are skipped, each named in one
    line; with ``strict`` a file smaller than ``image_size`` or of other channels is a
    DataError."""
    from .convert import finish  # TensorFlow: only once images are converted (module doc)

    images, used = [], []
    for index, path in enumerate(files):
        if limit is not None and len(images) >= limit:
            break
        try:
            pixels = decode(path, image_size)
            size = header_size(path) if strict else None  # decoded: within the pixel limit
        except _UNREADABLE as exc:
            _skip_unreadable(path, exc)
            continue
        if strict:
            _check_seed(path, size, pixels, image_size, channels)
        images.append(finish(pixels, image_size, channels).numpy())
        used.append(index)
    return images, used


@dataclass(frozen=True)
class Survey:
    """A folder's files by their headers (:func:`survey`): the usable ones and what was
    skipped."""

    sizes: dict  # usable file -> (width, height), in the files' order
    unreadable: int  # files whose header cannot be read
    small: int  # images under SMALL_FRACTION of the typical short side
    typical: int  # the median short side of the readable files (0: none)


def survey(files: Sequence[Path], where) -> Survey:
    """Read every file's header: name and drop the unreadable ones and those whose short side is
    under :data:`SMALL_FRACTION` of the median short side (module doc)."""
    sizes, unreadable = {}, 0
    for path in files:
        try:
            sizes[path] = header_size(path)
        except _UNREADABLE as exc:
            unreadable += 1
            _skip_unreadable(path, exc)
    typical = int(np.median([min(size) for size in sizes.values()])) if sizes else 0
    small = [path for path, size in sizes.items() if min(size) < SMALL_FRACTION * typical]
    for path in small:
        width, height = sizes.pop(path)
        notices.warn(f"skipping image {path}: {width}x{height} is under {SMALL_FRACTION:.0%} of "
                     f"the typical short side of the images in {where} ({typical} px, the "
                     "median)",
                     key=("small", str(path)))
    return Survey(sizes, unreadable, len(small), typical)


def _check_seed(path: Path, size: tuple[int, int], pixels: np.ndarray, image_size: int,
                channels: int) -> None:
    """DataError (one line, naming the file and the shape the run takes) for a seed smaller than
    the run's images (it would be upscaled) or of other channels: a 1-channel file for a colour
    run, a file with colour for a grayscale one (an RGB file with three equal channels is gray)."""
    colour = pixels.shape[-1] == 3 and not (np.array_equal(pixels[..., 0], pixels[..., 1])
                                            and np.array_equal(pixels[..., 1], pixels[..., 2]))
    wrong_channels = (channels == 3 and pixels.shape[-1] == 1) or (channels == 1 and colour)
    if min(size) < image_size or wrong_channels:
        kind = {1: "grayscale", 3: "RGB"}
        raise DataError(f"seed image {path} is {size[0]}x{size[1]} {kind[3 if colour else 1]}; "
                        f"this run takes "
                        f"{image_size}x{image_size} {kind[channels]} images ({image_size}x"
                        f"{image_size}x{channels}; larger ones are centre-cropped and resized): "
                        "use seeds like its training images")


def _no_image(where: str) -> DataError:
    return DataError(f"{where} contains no readable image (looked for "
                     f"{', '.join(IMAGE_EXTENSIONS)}, recursively)")


@dataclass(frozen=True)
class FolderLook:
    """What a folder's images are (:func:`look_at_folder`)."""

    root: Path
    files: int  # images that load (what training uses)
    classes: int
    smallest: tuple[int, int]  # (width, height) of the loading image with the shortest side
    largest: tuple[int, int]
    channels: int  # 3 when an image has colour, else 1
    unreadable: int = 0  # files skipped: they cannot be read or decoded
    small: int = 0  # images skipped: under SMALL_FRACTION of the typical short side
    typical: int = 0  # the median short side

    @property
    def side(self) -> int:
        """The short side of the smallest usable image: the centre crop's size before any
        upscaling."""
        return min(self.smallest)

    def describe(self) -> str:
        size = "x".join(map(str, self.smallest))
        if self.largest != self.smallest:
            size = f"{size} to {'x'.join(map(str, self.largest))}"
        colour = "RGB" if self.channels == 3 else "grayscale"
        skipped = [f"{self.unreadable} unreadable file{'s' if self.unreadable != 1 else ''}"
                   ] if self.unreadable else []
        if self.small:
            skipped.append(f"{self.small} image{'s' if self.small != 1 else ''} under "
                           f"{SMALL_FRACTION:.0%} of the typical {self.typical} px")
        return (f"{self.files} {colour} images of {size} in {self.classes} "
                f"class{'es' if self.classes != 1 else ''}"
                + (f" (skipped {' and '.join(skipped)})" if skipped else ""))


def _has_colour(pixels: np.ndarray) -> bool:
    """Whether decoded pixels have three channels that are not all equal."""
    return pixels.shape[-1] == 3 and not (np.array_equal(pixels[..., 0], pixels[..., 1])
                                          and np.array_equal(pixels[..., 1], pixels[..., 2]))


def look_at_folder(root: Path) -> FolderLook:
    """Sizes and channels of the images of a folder that load, every file read once: sizes
    from the headers (:func:`survey` skips the unreadable and the far too small ones), colour
    and readability from the decoded pixels (reduced; an RGB file whose three channels are equal
    counts as grayscale)."""
    files, labels, names = scan(root)
    if not files:
        raise _no_image(f"image folder {root}")
    found = survey(files, root)
    sizes, colour, unreadable = [], False, found.unreadable
    for path, size in found.sizes.items():
        try:
            pixels = decode(path, 16)
        except _UNREADABLE as exc:
            unreadable += 1
            _skip_unreadable(path, exc)
            continue
        sizes.append(size)
        colour = colour or _has_colour(pixels)
    if not sizes:
        raise _no_image(f"image folder {root}")
    return FolderLook(root, len(sizes), len(names), min(sizes, key=min), max(sizes, key=min),
                      3 if colour else 1, unreadable, found.small, found.typical)


def load_folder(root: Path, image_size: int, channels: int,
                limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, S, S, C], int32 [N]) of every usable image of the folder (the first ``limit``
    ones, in sorted class/path order, when a limit is given): :func:`survey`'s, that decode."""
    files, labels, _ = scan(root)
    found = survey(files, root).sizes
    usable = [i for i, path in enumerate(files) if path in found]
    images, used = _decode_all([files[i] for i in usable], image_size, channels, limit)
    if not images:
        raise _no_image(f"image folder {root}")
    return np.stack(images), np.asarray([labels[usable[i]] for i in used], np.int32)


def check_seed_path(path: Path) -> None:
    """A one-line DataError unless ``path`` (not a folder) is a regular file: what ``--seeds``
    accepts besides a folder."""
    if path.is_file():
        return
    if path.exists():
        raise DataError(f"seed images {path} is not a regular file or a folder (a FIFO, a "
                        "device...); give an image file or a folder of them")
    raise DataError(f"seed images {path} do not exist (expected a folder or an image file)")


def load_image_files(source: str | os.PathLike | Sequence[str | os.PathLike], image_size: int,
                     channels: int, strict: bool = False) -> tuple[np.ndarray, list[Path]]:
    """Seed images for few-shot generation: a folder (recursive) or a list of files.

    Returns float32 [N, S, S, C] in [0, 1] converted exactly like the folder dataset, and the
    sorted paths of the images actually used (unreadable files are skipped with a warning).
    ``strict``: a file smaller than ``image_size`` or of other channels is refused (one line).
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_dir():
            files, where = image_files(path), f"folder {path}"
            grids = [f for f in files if f.name == GENERATED_GRID]
            if grids:  # a folder `augintae-tf generate` wrote: its grid holds many images
                notices.warn(f"not using {', '.join(map(str, grids))} as a seed (the grid "
                             "`augintae-tf generate` writes)")
                files = [f for f in files if f.name != GENERATED_GRID]
        else:
            check_seed_path(path)
            files, where = [path], f"file {path}"
    else:
        files = sorted(Path(p).expanduser() for p in source)
        where = f"the {len(files)} given file(s)"
    images, used = _decode_all(files, image_size, channels, strict=strict)
    if not images:
        raise _no_image(where)
    return np.stack(images).astype(np.float32) / 255.0, [files[i] for i in used]
