"""A folder of image files as a dataset, and seed images for few-shot generation.

Layout: ``DIR/<class>/**/*.png`` gives one class per first-level subfolder (labels follow the
sorted subfolder names); a folder without such subfolders is one class, label 0.  PNG, JPEG, BMP,
GIF (first frame) and WebP are read with Pillow; hidden files and folders are ignored.

Conversion, identical for datasets and seed images:
* palette, 1-bit, CMYK, ... images are converted by Pillow to RGB or grayscale;
* 16-bit grayscale keeps its full range;
* transparency is composited onto black (the background of every dataset here), then dropped;
* the image is centre-cropped to a square, converted to the requested channels and resized by
  :func:`augintae_tf.data.convert.finish`, exactly like the TFDS and glyph sources.

Folders are small, so they are decoded into memory; a file that cannot be decoded is skipped
with a warning naming it, and a count of the skipped files at the end.

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

from .convert import finish
from .registry import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS = "AUGINTAE_MAX_IMAGE_PIXELS", 120_000_000
GENERATED_GRID = "grid.png"  # what `augintae-tf generate` writes beside its images: never a seed


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
        warnings.warn(f"ignoring {len(stray)} image file(s) directly in {root}: with class "
                      f"subfolders every image must be inside one", stacklevel=3)
    files = [f for _, group in classes for f in group]
    labels = [i for i, (_, group) in enumerate(classes) for _ in group]
    return files, labels, [name for name, _ in classes]


def _open_reduced(path: Path, size: int | None) -> Image.Image:
    """The decoded image, checked against the pixel limit and reduced towards ``size`` (at least
    4x ``size`` stays, so the final antialiased resize sees enough pixels)."""
    limit = max_pixels()
    if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the open below forever
        raise OSError(f"{path} is not a regular file")
    with warnings.catch_warnings():
        # Pillow's decompression-bomb warning does not name the file; the check below does.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, limit // 2 + 1)
        picture = Image.open(path)
    width, height = picture.size
    if width * height > limit:
        picture.close()
        raise ImageTooLarge(f"{width}x{height} is {width * height:,} pixels, above the limit of "
                            f"{limit:,} (set {MAX_PIXELS_ENV} to raise it)")
    if size:
        picture.draft(picture.mode, (4 * size, 4 * size))  # JPEG only; a no-op elsewhere
    picture.load()  # decode now: truncated files fail here, not later
    factor = min(picture.size) // (4 * size) if size else 1
    if factor >= 2:
        picture = picture.reduce(factor)
    return picture


def decode(path: Path, size: int | None = None) -> np.ndarray:
    """Float32 [H, W, 1 or 3] in [0, 1] (reduced towards ``size`` when much larger); raises one
    of _UNREADABLE for a broken or too large file."""
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


def _decode_all(files: Iterable[Path], image_size: int, channels: int, where: str,
                limit: int | None = None,
                strict: bool = False) -> tuple[list[np.ndarray], list[int]]:
    """Decode and convert files in order (until ``limit`` succeed); returns the images and the
    positions of the files they came from.  Unreadable files are skipped with warnings; with
    ``strict`` a file smaller than ``image_size`` or of other channels is a DataError."""
    images, used, skipped = [], [], 0
    for index, path in enumerate(files):
        if limit is not None and len(images) >= limit:
            break
        try:
            pixels = decode(path, image_size)
            if strict:  # decoded: the header is within the pixel limit
                with Image.open(path) as picture:
                    size = picture.size
        except _UNREADABLE as exc:
            skipped += 1
            warnings.warn(f"skipping unreadable image {path}: {exc}", stacklevel=3)
            continue
        if strict:
            _check_seed(path, size, pixels, image_size, channels)
        images.append(finish(pixels, image_size, channels).numpy())
        used.append(index)
    if skipped:
        warnings.warn(f"skipped {skipped} unreadable file(s) in {where}", stacklevel=3)
    return images, used


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
    """What a folder's images are, from a sample of its files (:func:`look_at_folder`)."""

    root: Path
    files: int
    classes: int
    sampled: int
    smallest: tuple[int, int]  # (width, height) of the sampled file with the shortest side
    largest: tuple[int, int]
    channels: int  # 3 when a sampled file has colour, else 1

    @property
    def side(self) -> int:
        """The short side of the smallest file: the centre crop's size before any upscaling."""
        return min(self.smallest)

    def describe(self) -> str:
        size = "x".join(map(str, self.smallest))
        if self.largest != self.smallest:
            size = f"{size} to {'x'.join(map(str, self.largest))}"
        colour = "RGB" if self.channels == 3 else "grayscale"
        return (f"{self.files} {colour} images of {size} in {self.classes} "
                f"class{'es' if self.classes != 1 else ''}")


def _has_colour(path: Path) -> bool:
    """Whether the decoded image has three channels that are not all equal."""
    pixels = decode(path, 64)
    return pixels.shape[-1] == 3 and not (np.array_equal(pixels[..., 0], pixels[..., 1])
                                          and np.array_equal(pixels[..., 1], pixels[..., 2]))


def look_at_folder(root: Path, sample: int = 64) -> FolderLook:
    """Sizes and channels of an image folder from up to ``sample`` of its files, evenly spread
    over the sorted list (every class is visited): sizes from the file headers, colour from the
    decoded pixels (an RGB file whose three channels are equal counts as grayscale)."""
    files, labels, names = scan(root)
    if not files:
        raise _no_image(f"image folder {root}")
    picked = [files[i] for i in np.unique(np.linspace(0, len(files) - 1, min(sample, len(files)))
                                          .round().astype(int))]
    sizes, colour = [], False
    for path in picked:
        try:
            with Image.open(path) as picture:
                sizes.append(picture.size)
            colour = colour or _has_colour(path)
        except _UNREADABLE:
            continue  # loading skips it too, with a warning naming it
    if not sizes:
        raise _no_image(f"image folder {root}")
    return FolderLook(root, len(files), len(names), len(sizes), min(sizes, key=min),
                      max(sizes, key=min), 3 if colour else 1)


def load_folder(root: Path, image_size: int, channels: int,
                limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, S, S, C], int32 [N]) of every readable image of the folder (the first
    ``limit`` ones, in sorted class/path order, when a limit is given)."""
    files, labels, _ = scan(root)
    images, used = _decode_all(files, image_size, channels, str(root), limit)
    if not images:
        raise _no_image(f"image folder {root}")
    return np.stack(images), np.asarray([labels[i] for i in used], np.int32)


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
                warnings.warn(f"not using {', '.join(map(str, grids))} as a seed (the grid "
                              "`augintae-tf generate` writes)", stacklevel=2)
                files = [f for f in files if f.name != GENERATED_GRID]
        elif path.is_file():
            files, where = [path], f"file {path}"
        elif path.exists():
            raise DataError(f"seed images {path} is not a regular file or a folder (a FIFO, a "
                            "device...); give an image file or a folder of them")
        else:
            raise DataError(f"seed images {path} do not exist (expected a folder or an image file)")
    else:
        files = sorted(Path(p).expanduser() for p in source)
        where = f"the {len(files)} given file(s)"
    images, used = _decode_all(files, image_size, channels, where, strict=strict)
    if not images:
        raise _no_image(where)
    return np.stack(images).astype(np.float32) / 255.0, [files[i] for i in used]
