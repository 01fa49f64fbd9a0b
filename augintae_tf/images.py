"""Image grids and PNG files: what people look at (samples, previews, generations)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from augintae_tf.atomic import atomic_path, atomic_paths
from augintae_tf.errors import RunError

# What an output file's suffix asks for (Pillow's format names); other suffixes are refused.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
LABEL_WIDTH = 150  # the narrowest left margin of a labelled grid (a run name of ~20 characters)
MAX_LABEL_WIDTH = 420  # the widest; longer labels wrap onto more lines
LABEL_FONT_SIZE, LABEL_MARGIN = 14, 4


def image_format(path: str | os.PathLike, option: str = "--out") -> str:
    """The Pillow format ``path``'s suffix names, or a RunError listing the writable ones."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise RunError(f"{option} {path}: cannot write a {Path(path).suffix or 'suffix-less'} file; "
                       f"use one of {', '.join(FORMATS)}")
    return fmt


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (any leading shape, channels last) -> uint8, values clipped."""
    return np.round(np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def make_grid(rows: Sequence[np.ndarray], pad: int = 2, pad_value: float = 0.5) -> np.ndarray:
    """Lay out rows of images ``[N_i, H, W, C]`` (same H, W, C) as one float image ``[H', W', C]``.

    Shorter rows are left blank on the right; ``pad`` pixels of grey separate the cells so that
    black-background images stay distinguishable.
    """
    rows = [np.asarray(r, dtype=np.float32) for r in rows if len(r)]
    if not rows:
        raise ValueError("make_grid needs at least one non-empty row of images")
    h, w, c = rows[0].shape[1:]
    cols = max(len(r) for r in rows)
    grid = np.full((pad + len(rows) * (h + pad), pad + cols * (w + pad), c), pad_value, np.float32)
    for i, row in enumerate(rows):
        if row.shape[1:] != (h, w, c):
            raise ValueError(f"row {i} has images of shape {row.shape[1:]}, expected {(h, w, c)}")
        for j, image in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y:y + h, x:x + w] = image
    return grid


def _picture(image: np.ndarray, upscale: int = 1) -> Image.Image:
    """A float ``[H, W, C]`` image in [0, 1] as a Pillow image, nearest-neighbour upscaled."""
    return _pixels_picture(to_uint8(image), upscale)


def _pixels_picture(pixels: np.ndarray, upscale: int = 1) -> Image.Image:
    """A uint8 ``[H, W, C]`` image as a Pillow image, nearest-neighbour upscaled."""
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    picture = Image.fromarray(pixels)
    if upscale > 1:
        picture = picture.resize((picture.width * upscale, picture.height * upscale), Image.NEAREST)
    return picture


def _write(path: str | os.PathLike, picture: Image.Image) -> Path:
    """Write ``picture`` atomically, in the format the suffix of ``path`` names."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = image_format(path, "image")
    with atomic_path(path, what="an image") as tmp:
        picture.save(tmp, format=fmt)
    return path


def save_png(path: str | os.PathLike, image: np.ndarray, upscale: int = 1) -> Path:
    """Write a float ``[H, W, C]`` image in [0, 1], atomically, in the format its suffix names."""
    return _write(path, _picture(image, upscale))


def save_pngs(paths: Sequence[str | os.PathLike], images: np.ndarray) -> list[Path]:
    """:func:`save_png` of ``images[i]`` to ``paths[i]`` for every i, the same files, written as
    one batch (:func:`~augintae_tf.atomic.atomic_paths`: each file atomic, one fsync round for
    all of them instead of one commit per file; uint8 conversion once for the batch)."""
    paths = [Path(p) for p in paths]
    if len(paths) != len(images):
        raise ValueError(f"save_pngs got {len(paths)} paths for {len(images)} images")
    formats = [image_format(path, "image") for path in paths]
    for folder in {path.parent for path in paths}:
        folder.mkdir(parents=True, exist_ok=True)
    pixels = to_uint8(images)
    with atomic_paths(paths, what="an image") as temps:
        for tmp, image, fmt in zip(temps, pixels, formats):
            _pixels_picture(image).save(tmp, format=fmt)
    return paths


def _grid_upscale(rows: Sequence[np.ndarray]) -> int:
    return max(1, 96 // rows[0].shape[1])  # small images are upscaled so a grid is readable


def save_grid(path: str | os.PathLike, rows: Sequence[np.ndarray], upscale: int | None = None) -> Path:
    """Save rows of images as one grid image (format from the suffix); small images are upscaled so a grid is readable."""
    return save_png(path, make_grid(rows), upscale=upscale or _grid_upscale(rows))


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text``, cut with an ellipsis until it is at most ``width`` pixels long."""
    while len(text) > 1 and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text


def _font():
    return ImageFont.load_default(size=LABEL_FONT_SIZE)


def label_width(labels: Sequence[str]) -> int:
    """The left margin a labelled grid gives ``labels``: wide enough for the longest one (at
    least :data:`LABEL_WIDTH`, at most :data:`MAX_LABEL_WIDTH`; longer ones wrap)."""
    draw, font = ImageDraw.Draw(Image.new("L", (1, 1))), _font()
    longest = max((draw.textlength(str(label), font=font) for label in labels), default=0)
    return int(min(MAX_LABEL_WIDTH, max(LABEL_WIDTH, longest + 2 * LABEL_MARGIN)))


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, max_lines: int) -> list[str]:
    """``text`` in lines of at most ``width`` pixels, broken after a space, ``/``, ``-`` or
    ``_`` where possible (run and class names), else anywhere; at most ``max_lines`` lines,
    the last cut with an ellipsis if the text goes on."""
    lines, rest = [], text
    while rest and len(lines) < max_lines:
        if draw.textlength(rest, font=font) <= width:
            lines.append(rest)
            rest = ""
            break
        cut = len(rest)
        while cut > 1 and draw.textlength(rest[:cut], font=font) > width:
            cut -= 1
        breaks = [i + 1 for i, ch in enumerate(rest[:cut]) if ch in " /-_"]
        cut = breaks[-1] if breaks and breaks[-1] > cut // 2 else cut
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        lines[-1] = _fit(draw, lines[-1] + "…", font, width)
    return lines


def save_labelled_grid(path: str | os.PathLike, rows: Sequence[np.ndarray], labels: Sequence[str],
                       upscale: int | None = None, pad: int = 2) -> Path:
    """:func:`save_grid` with a white left margin that names each row: ``labels[i]`` is
    written (black) beside ``rows[i]``.  The margin is :func:`label_width` wide: the longest
    label fits, up to :data:`MAX_LABEL_WIDTH`, beyond which labels wrap onto more lines (cut
    with "…" only when the row is too short for them).  The grid part is pixel for pixel what
    :func:`save_grid` writes, so the figure is ``label_width(labels) + grid width`` wide and as
    tall as the grid."""
    if len(labels) != len(rows):
        raise ValueError(f"save_labelled_grid got {len(labels)} labels for {len(rows)} rows")
    upscale = upscale or _grid_upscale(rows)
    grid = _picture(make_grid(rows, pad=pad), upscale)
    margin = label_width(labels)
    canvas = Image.new(grid.mode, (margin + grid.width, grid.height), "white")
    canvas.paste(grid, (margin, 0))
    draw, font = ImageDraw.Draw(canvas), _font()
    side = rows[0].shape[1] * upscale
    cell, line_height = (rows[0].shape[1] + pad) * upscale, LABEL_FONT_SIZE + 2
    for i, label in enumerate(labels):
        middle = pad * upscale + i * cell + side // 2
        lines = _wrap(draw, str(label), font, margin - 2 * LABEL_MARGIN,
                      max(1, side // line_height))
        for k, line in enumerate(lines):
            y = middle + (k - (len(lines) - 1) / 2) * line_height
            draw.text((LABEL_MARGIN, y), line, fill="black", font=font, anchor="lm")
    return _write(path, canvas)


# Frames of an animated interpolation path (``interpolate --gif``): 17 images from one end to
# the other, then back without repeating the ends.
GIF_FRAMES = 32


def save_gif(path: str | os.PathLike, frames: np.ndarray, duration_ms: int = 80,
             upscale: int | None = None) -> Path:
    """An animated GIF (looping) of float frames ``[N, H, W, C]`` in [0, 1], ``duration_ms``
    per frame, small images upscaled like grids; written atomically."""
    frames = np.asarray(frames, np.float32)
    upscale = upscale or _grid_upscale([frames])
    pictures = [_picture(frame, upscale) for frame in frames]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, what="an animation") as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=duration_ms, loop=0)
    return path
