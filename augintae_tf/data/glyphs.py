"""``glyphs``: an Omniglot-like dataset generated offline from the fonts that ship with matplotlib.

The project must train and be tested without internet, so its default dataset is rendered
locally: letters of 15 writing systems, white on black at 28x28 like MNIST.  As in Omniglot, the
alphabets are split into *background* alphabets (``train`` and ``validation``) and held-out
*evaluation* alphabets (``test``), so few-shot generation is measured on classes and scripts the
model never saw.  A fourth split, ``far``, holds symbols that are no letters at all (arrows,
mathematical operators, technical symbols, box drawing, geometric shapes, dingbats;
:mod:`augintae_tf.data.glyph_sets`): a far novel domain rendered the same way.

What makes two instances of a character differ (a printed font alone would give identical
copies): the font face (DejaVu / STIX, regular / bold, sans / serif), the stroke width, the size
and position of the character, and a smooth random displacement field (elastic jitter).  Every
character is rendered at 4x and reduced with box averaging, so edges are antialiased.

Characters are kept only if a shipped font maps the codepoint (checked with fontTools, so no
"tofu" boxes are ever rendered), the rendered glyph has ink, and it does not look the same as an
already kept character (Latin "A" = Greek "Alpha" = Cyrillic "A"; background alphabets are kept
first, so evaluation alphabets never repeat a training class).

The arrays are deterministic for a seed and generated once, then cached as uint8 in
``$AUGINTAE_CACHE_DIR`` (default ``~/.cache/augintae_tf``).
"""
from __future__ import annotations

import functools
import logging
import os
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from augintae_tf.atomic import atomic_path
from augintae_tf.data.glyph_sets import FAR, FAR_CATEGORIES, FAR_DUPLICATE, FAR_PER_SET, far_name
from augintae_tf.errors import RunError

log = logging.getLogger(__name__)

VERSION = 2  # v2 added the far split; bump whenever the rendering changes, so stale caches are not reused
DEFAULT_SEED = 0
SIZE = 28
INSTANCES = {"train": 20, "validation": 4, "test": 20, "far": 20}  # per character
SPLITS = tuple(INSTANCES)
MAX_PER_ALPHABET = 32  # keeps the large Canadian syllabary from dominating the class list

# (name, codepoint ranges): Omniglot-style split, ~2/3 of the scripts for training.
BACKGROUND = (
    ("latin", ((0x41, 0x5A), (0x61, 0x7A))),
    ("greek", ((0x391, 0x3A9), (0x3B1, 0x3C9))),
    ("cyrillic", ((0x410, 0x44F),)),
    ("hebrew", ((0x5D0, 0x5EA),)),
    ("arabic", ((0x621, 0x64A),)),
    ("lao", ((0xE81, 0xEAE), (0xEDC, 0xEDF))),
    ("canadian_syllabics", ((0x1401, 0x166C),)),
    ("ogham", ((0x1681, 0x169A),)),
    ("braille", ((0x2801, 0x283F),)),
    ("lisu", ((0xA4D0, 0xA4F7),)),
)
EVALUATION = (
    ("armenian", ((0x531, 0x556), (0x561, 0x586))),
    ("georgian", ((0x10D0, 0x10FA),)),
    ("tifinagh", ((0x2D30, 0x2D67),)),
    ("nko", ((0x7CA, 0x7EA),)),
    ("old_italic", ((0x10300, 0x1031F),)),
)
# Upright faces only: slant is the augmentation's job (shear), and monospace faces squash glyphs.
# LastResort is excluded on purpose: it draws a placeholder box for every codepoint.
_FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
               "STIXGeneral.ttf", "STIXGeneralBol.ttf")
_CATEGORIES = ("Lu", "Ll", "Lt", "Lo", "So")  # letters; So for Braille patterns. No marks.
_FAR_SETS = frozenset(name for name, _ in FAR)

_RENDER = 4  # render at 4x for antialiased strokes ...
_WARP = 2  # ... warp at 2x, where the bilinear resampling blur is halved by the final reduction
_REF = 50  # font size at which ink boxes are measured
_BOX = (16.0, 22.0)  # final-pixel range for the larger side of the ink box (MNIST uses 20)
_SHIFT = 1.5  # final-pixel range of the random offset of the ink-box centre
_MAX_STROKE = 3  # extra stroke at 4x: widens strokes by up to 1.5 final pixels ...
_MAX_STROKE_BOLD = 1  # ... but bold faces are already heavy: more fills counters in
_ELASTIC = 1.2  # final-pixel std of the control-point displacements
_GRID = 4  # control points per side of the displacement field (smooth, character-scale warps)
_DUPLICATE = 0.2  # relative mean pixel difference below which two characters count as the same
_MIN_INK = 12.0  # summed intensity (in full pixels at 28x28) a glyph needs to count as visible


@dataclass(frozen=True)
class _Char:
    alphabet: str
    text: str
    fonts: tuple[str, ...]  # font files that map this codepoint
    min_side: float  # floor on the ink size used to fit, so tiny glyphs (dots) are not blown up


def _font_dir() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.lru_cache(maxsize=None)
def _cmap(path: str) -> frozenset[int]:
    return frozenset(TTFont(path, lazy=True).getBestCmap())


@functools.lru_cache(maxsize=None)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=None)
def _ink_box(path: str, text: str) -> tuple[int, int, int, int] | None:
    """Tight ink box at size _REF relative to the text origin (font metrics are not tight)."""
    mask, (dx, dy) = _font(path, _REF).getmask2(text, mode="L")
    box = mask.getbbox()
    return None if box is None else (dx + box[0], dy + box[1], dx + box[2], dy + box[3])


def _render(char: _Char, font: str, side: float, cx: float, cy: float, stroke: int) -> np.ndarray:
    """Render one instance at 4x, reduced to 2x for the warp: the ink box's larger side becomes
    ``side`` final pixels and its centre lands at (cx, cy) final pixels.  Float32 [56, 56]."""
    x0, y0, x1, y1 = _ink_box(font, char.text)
    # Whole-point sizes (1% steps at 4x) let the font objects be cached.
    size = round(_REF * side * _RENDER / max(x1 - x0, y1 - y0, char.min_side))
    scale = size / _REF
    origin = (cx * _RENDER - (x0 + x1) / 2 * scale, cy * _RENDER - (y0 + y1) / 2 * scale)
    canvas = Image.new("L", (SIZE * _RENDER, SIZE * _RENDER))
    ImageDraw.Draw(canvas).text(origin, char.text, font=_font(font, size), fill=255,
                                stroke_width=stroke, stroke_fill=255)
    return np.asarray(canvas.reduce(_RENDER // _WARP), np.float32) / 255.0


def _pool(images: np.ndarray) -> np.ndarray:
    """[N, 56, 56] -> [N, 28, 28] by 2x2 averaging (the last antialiasing step)."""
    n, s = images.shape[0], images.shape[1] // 2
    return images.reshape(n, s, 2, s, 2).mean(axis=(2, 4))


def _candidates(ranges: tuple[tuple[int, int], ...],
                categories: tuple[str, ...] = _CATEGORIES) -> list[str]:
    return [chr(cp) for lo, hi in ranges for cp in range(lo, hi + 1)
            if unicodedata.category(chr(cp)) in categories]


class _Distinct:
    """Canonical 28x28 renders of the characters kept so far, to reject look-alikes.

    Two renders are the same character when their mean absolute difference, relative to the ink
    of the inkier one, is below _DUPLICATE.  Means of 4x4 blocks give a lower bound of that
    difference (triangle inequality), so only the few plausible rows are compared pixel by pixel.
    """

    def __init__(self, capacity: int):
        self.images = np.zeros((capacity, SIZE * SIZE), np.float32)
        self.blocks = np.zeros((capacity, 49), np.float32)
        self.count = 0

    @staticmethod
    def _blocks(image: np.ndarray) -> np.ndarray:
        return image.reshape(7, 4, 7, 4).mean(axis=(1, 3)).reshape(-1)

    def add(self, image: np.ndarray, duplicate: float = _DUPLICATE) -> bool:
        """Keep ``image`` [784] and return True unless it looks like a kept one (relative
        difference below ``duplicate``)."""
        image, blocks = image.reshape(-1), self._blocks(image)
        kept, kept_blocks = self.images[:self.count], self.blocks[:self.count]
        limit = duplicate * np.maximum(kept_blocks.mean(axis=1), image.mean())
        close = np.flatnonzero(np.abs(kept_blocks - blocks).mean(axis=1) < limit)
        if np.any(np.abs(kept[close] - image).mean(axis=1) < limit[close]):
            return False
        self.images[self.count], self.blocks[self.count] = image, blocks
        self.count += 1
        return True


def _alphabet(alphabet: str, ranges: tuple[tuple[int, int], ...], fonts: list[str],
              distinct: _Distinct, categories: tuple[str, ...] = _CATEGORIES,
              limit: int = MAX_PER_ALPHABET, duplicate: float = _DUPLICATE) -> list[_Char]:
    """Up to ``limit`` covered, visible, new characters of one alphabet (of the Unicode
    ``categories``; look-alikes: relative difference below ``duplicate``), spread evenly over
    its codepoints."""
    found = []
    for text in _candidates(ranges, categories):
        covering = tuple(f for f in fonts if ord(text) in _cmap(f))
        if covering and _ink_box(covering[0], text):
            found.append((text, covering))
    if not found:
        return []
    sides = [max(b[2] - b[0], b[3] - b[1]) for b in (_ink_box(c[0], t) for t, c in found)]
    min_side = float(np.median(sides)) / 1.5
    chars = []
    for text, covering in found:
        char = _Char(alphabet, text, covering, min_side)
        canon = _pool(_render(char, covering[0], 20.0, SIZE / 2, SIZE / 2, 0)[None])[0]
        if canon.sum() >= _MIN_INK and distinct.add(canon, duplicate):
            chars.append(char)
    take = np.unique(np.linspace(0, len(chars) - 1, limit).round().astype(int))
    # Every face used for instances must draw the character, not only the first one.
    return [_Char(c.alphabet, c.text, tuple(f for f in c.fonts if _ink_box(f, c.text)),
                  c.min_side) for c in (chars[i] for i in take)]


@functools.lru_cache(maxsize=1)
def _selection() -> tuple[tuple[_Char, ...], tuple[_Char, ...], tuple[_Char, ...]]:
    """The (background, evaluation, far) characters; deterministic, independent of the seed.
    Background alphabets go first, so look-alikes are removed from the evaluation ones, and
    the far symbols last, so none of them looks like a letter of either."""
    fonts = [str(_font_dir() / name) for name in _FONT_FILES if (_font_dir() / name).is_file()]
    distinct = _Distinct(sum(len(_candidates(r)) for _, r in BACKGROUND + EVALUATION)
                         + sum(len(_candidates(r, FAR_CATEGORIES)) for _, r in FAR))
    background = tuple(c for a, r in BACKGROUND for c in _alphabet(a, r, fonts, distinct))
    evaluation = tuple(c for a, r in EVALUATION for c in _alphabet(a, r, fonts, distinct))
    far = tuple(c for a, r in FAR
                for c in _alphabet(a, r, fonts, distinct, FAR_CATEGORIES, FAR_PER_SET,
                                   FAR_DUPLICATE))
    return background, evaluation, far


def _select() -> tuple[tuple[_Char, ...], tuple[_Char, ...]]:
    """The (background, evaluation) characters (see :func:`_selection`)."""
    return _selection()[:2]


def _select_far() -> tuple[_Char, ...]:
    """The far symbols (see :func:`_selection`)."""
    return _selection()[2]


def _name(char: _Char) -> str:
    """``alphabet/short-name`` from the Unicode name: "greek/capital-alpha", "braille/dots-14"."""
    if char.alphabet in _FAR_SETS:
        return far_name(char.alphabet, char.text)
    name = unicodedata.name(char.text, f"U{ord(char.text):04X}")
    if " LETTER " in name:
        prefix, rest = name.split(" LETTER ", 1)
        words = [w for w in prefix.split() if w in ("CAPITAL", "SMALL")] + rest.split()
    else:  # drop the script prefix: "CANADIAN SYLLABICS PE", "BRAILLE PATTERN DOTS-14", "LAO HO NO"
        two = name.startswith(("CANADIAN SYLLABICS ", "BRAILLE PATTERN "))
        words = name.split()[2 if two else 1:]
    return f"{char.alphabet}/{'-'.join(words).lower()}"


def class_names(seed: int = DEFAULT_SEED) -> list[str]:
    """Names indexed by label: background characters first, then evaluation characters, then
    the far symbols."""
    return [str(n) for n in load(seed)["class_names"]]


def _elastic(images: np.ndarray, rng: np.random.Generator, chunk: int = 1024) -> np.ndarray:
    """Warp [N, S, S] images by smooth random displacement fields (bilinear sampling).

    A _GRID x _GRID lattice of Gaussian displacements is interpolated with normalised Gaussian
    weights, so the field bends whole strokes rather than adding pixel noise.  Sample positions
    are clamped to the image; glyphs sit in the middle, so the clamped border is black anyway.
    """
    n, s = images.shape[:2]
    grid = np.linspace(0, s - 1, _GRID)
    weights = np.exp(-0.5 * ((np.arange(s)[:, None] - grid[None]) / (s / _GRID)) ** 2)
    weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    base = np.arange(s, dtype=np.float32)
    out = np.empty_like(images)
    for start in range(0, n, chunk):
        flat = images[start:start + chunk].reshape(-1)  # global flat indices: one np.take per tap
        m = len(flat) // (s * s)
        coarse = rng.normal(0.0, _ELASTIC * _WARP, size=(m, 2, _GRID, _GRID)).astype(np.float32)
        field = weights @ coarse @ weights.T  # [m, 2, s, s]
        y = np.clip(field[:, 0] + base[:, None], 0, s - 1.001)
        x = np.clip(field[:, 1] + base[None, :], 0, s - 1.001)
        y0, x0 = y.astype(np.int32), x.astype(np.int32)  # floor: coordinates are >= 0
        wy, wx = y - y0, x - x0
        top = (y0 * s + x0) + (np.arange(m, dtype=np.int32) * (s * s))[:, None, None]
        upper = flat.take(top) * (1 - wx) + flat.take(top + 1) * wx
        lower = flat.take(top + s) * (1 - wx) + flat.take(top + s + 1) * wx
        out[start:start + m] = upper * (1 - wy) + lower * wy
    return out


def _render_split(chars: tuple[_Char, ...], first_label: int, per_char: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``per_char`` instances of each character, instance-major (one of every class, then the
    next), so that a ``limit`` prefix still covers all classes."""
    order = [(j, i) for j in range(per_char) for i in range(len(chars))]
    hires = np.empty((len(order), SIZE * _WARP, SIZE * _WARP), np.float32)
    for k, (_, i) in enumerate(order):
        char = chars[i]
        font = char.fonts[rng.integers(len(char.fonts))]
        side = rng.uniform(*_BOX)
        cx, cy = SIZE / 2 + rng.uniform(-_SHIFT, _SHIFT, size=2)
        stroke = int(rng.integers((_MAX_STROKE_BOLD if "Bol" in font else _MAX_STROKE) + 1))
        hires[k] = _render(char, font, side, cx, cy, stroke)
    images = _pool(_elastic(hires, rng))
    labels = np.array([first_label + i for _, i in order], np.int32)
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8), labels


def generate(seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
    """Render every split: ``{split}_images`` uint8 [N, 28, 28], ``{split}_labels`` int32 [N],
    ``class_names`` [C].  Each split draws from its own random stream, so validation instances
    are fresh draws and not copies of training instances."""
    start = time.perf_counter()
    background, evaluation, far = _selection()
    every = background + evaluation + far
    names = [_name(c) for c in every]
    if len(set(names)) != len(names):  # Unicode names are unique; short ones almost always are
        names = [f"{n}-u{ord(c.text):04x}" for n, c in zip(names, every)]
    data = {"class_names": np.array(names)}
    # Labels: background, then evaluation, then far (far's continue after test's).
    parts = {"train": (background, 0), "validation": (background, 0),
             "test": (evaluation, len(background)), "far": (far, len(background) + len(evaluation))}
    for index, split in enumerate(SPLITS):  # far is last: the other splits' streams are unchanged
        rng = np.random.default_rng([seed, index])
        chars, first = parts[split]
        data[f"{split}_images"], data[f"{split}_labels"] = _render_split(
            chars, first, INSTANCES[split], rng)
    log.info("generated glyphs (seed %d, %d classes) in %.1f s", seed, len(data["class_names"]),
             time.perf_counter() - start)
    return data


def cache_path(seed: int = DEFAULT_SEED) -> Path:
    root = os.environ.get("AUGINTAE_CACHE_DIR") or Path.home() / ".cache" / "augintae_tf"
    return Path(root).expanduser() / f"glyphs-v{VERSION}-{seed}.npz"


def load(seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
    """The glyph arrays for ``seed``: from the cache file, else generated and cached."""
    return _load(str(cache_path(seed)), seed)


@functools.lru_cache(maxsize=4)
def _load(path: str, seed: int) -> dict[str, np.ndarray]:
    expected = {"class_names"} | {f"{s}_{k}" for s in SPLITS for k in ("images", "labels")}
    data = None
    if os.path.isfile(path):
        try:
            with np.load(path) as archive:
                data = {key: archive[key] for key in archive.files}
            if set(data) != expected:
                raise ValueError(f"keys {sorted(data)}")
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # regenerate
            log.warning("ignoring unreadable glyph cache %s (%s); regenerating", path, exc)
            data = None
    if data is None:
        data = generate(seed)
        _write_atomic(Path(path), data)
    for array in data.values():
        array.flags.writeable = False  # shared between callers through the lru_cache
    return data


def _write_atomic(path: Path, data: dict[str, np.ndarray]) -> None:
    """Temp file + os.replace: a concurrent reader never sees a half-written archive."""
    try:
        with atomic_path(path, what="the glyphs cache") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **data)
    except (OSError, RunError) as exc:  # a read-only home only costs regenerating next time
        log.warning("could not cache glyphs at %s (%s)", path, exc)


def split_arrays(split: str, seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, 28, 28, 1], int32 [N]) of one split."""
    data = load(seed)
    return data[f"{split}_images"][..., None], data[f"{split}_labels"]
