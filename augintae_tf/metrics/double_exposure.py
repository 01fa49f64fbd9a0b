"""Double exposures: generated images that a blend of two seeds explains far better than one seed.

The paper's case against plain autoencoders is visual: their interpolations show "transparency and
silhouette artifacts" (appendix A.6), two shapes drawn over each other.  FD, realism and coverage
do not see that; this structural test does.  For a generated image ``g`` of a class with seeds
``S`` (images flattened to ``P`` pixels, MSE = squared error / P), with ``V(s)`` the *variants* of a
seed (every integer shift ``|dy|, |dx| <= shift`` of it and of its 3x3 box blur) and
``B(u, v) = {a u + (1 - a) v : a in [lo, hi]}``:

* ``e1 = min MSE(g, c)`` over ``c`` in ``V(s)`` or in ``B(u, w)`` with ``u, w`` in ``V(s)``, for one
  seed ``s``: the best *single* seed, possibly smeared over two of its own variants;
* ``e2 = min MSE(g, c)`` over ``c`` in ``B(u, w)``, ``u`` in ``V(s_i)``, ``w`` in ``V(s_j)``,
  ``s_i != s_j``: the best blend of two *distinct* seeds;
* ``g`` is a double exposure when ``e2 < ratio * e1`` (default 0.5: two seeds halve the error).

Choices, calibrated on the reference rows of :mod:`.fewshot_quality` on glyphs (real held-out images near
0, the pixel cross-fade at 1; README):

* The two hypotheses get the same freedom -- two shifted/blurred copies and a blend weight -- and
  differ only in whether the copies come from one seed or two.  Without the one-seed smear a blend
  of two similar seeds offset by a pixel passes for a thicker or softer stroke, and wins for real
  images too: the bare test (e1 = best shifted seed) flagged 10% of glyphs' held-out real images
  at ratio 0.5 (56% after a 3x3 blur), this one 0.5% (12%).
* The blurred variants let a *blurry* double exposure (a decoder's) still fit a blend of two
  blurred seeds: without them a 3x3-blurred cross-fade was flagged 13% of the time, with them 100%.
* Shifts are independent per copy (a cross-fade of two offset shapes is still two shapes); pixels
  shifted in repeat the border (``np.pad(mode="edge")``), i.e. the background on either polarity.
* ``a`` is exact, not a grid: for fixed ``u, w`` the error ``||g - w - a (u - w)||^2`` is a parabola
  in ``a``, minimised over ``[lo, hi]`` at ``a* = clip(((g - w).(u - w)) / ||u - w||^2, lo, hi)``
  (default ``[0.25, 0.75]``: ``a`` near 0 or 1 is one shape plus a faint ghost).  The range is
  symmetric, so unordered pairs cover both orders.
* Vectorised without forming a candidate image: from ``g . u`` for every variant, the variants'
  Gram matrix and norms, each candidate's error is a few scalar operations (:func:`_blend_errors`);
  5 seeds x 50 variants is 25,000 two-seed and 12,500 one-seed candidates per image.
* An exact seed copy has ``e1 = 0`` and is never a double exposure (no error to halve): images with
  ``e1 <= EXACT`` are not flagged, which also absorbs the expansion's round-off.  Neither is an
  image of a class with fewer than two seeds (no blend exists).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

# per-pixel MSE at or below this is an exact match (images in [0, 1]); the float32 expansion of a
# copy's error leaves ~1e-7 of round-off, one pixel off by 0.03 in a 28x28 image is ~1e-6
EXACT = 1e-6
DEFAULT_RATIO = 0.5
DEFAULT_SHIFT = 2
DEFAULT_ALPHA_RANGE = (0.25, 0.75)


def _check(ratio: float, shift: int, alpha_range) -> None:
    if not 0 < ratio <= 1:
        raise ValueError(f"double-exposure ratio must be in (0, 1], got {ratio}")
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or shift < 0:
        raise ValueError(f"double-exposure shift must be an integer >= 0, got {shift!r}")
    lo, hi = alpha_range
    if not 0 < lo <= hi < 1:
        raise ValueError(f"double-exposure alpha_range must satisfy 0 < lo <= hi < 1, got {alpha_range}")


def shifted(images, shift: int) -> np.ndarray:
    """``[N, T, P]`` float32: every image under each of the ``T = (2 shift + 1)^2`` integer shifts
    ``(dy, dx)`` (row-major from ``(-shift, -shift)``), border pixels repeated, then flattened."""
    images = np.asarray(images, np.float32)
    n, h, w = images.shape[:3]
    pad = [(0, 0), (shift, shift), (shift, shift)] + [(0, 0)] * (images.ndim - 3)
    padded = np.pad(images, pad, mode="edge")
    offsets = range(2 * shift + 1)
    # the window starting at (2 shift - oy, 2 shift - ox) is the image moved by (oy - shift, ox - shift)
    out = [padded[:, 2 * shift - oy:2 * shift - oy + h, 2 * shift - ox:2 * shift - ox + w]
           for oy in offsets for ox in offsets]
    return np.stack(out, axis=1).reshape(n, len(out), -1)


def box_blur(images) -> np.ndarray:
    """3x3 box mean of ``[N, H, W, ...]`` images, border pixels repeated."""
    images = np.asarray(images, np.float32)
    h, w = images.shape[1:3]
    padded = np.pad(images, [(0, 0), (1, 1), (1, 1)] + [(0, 0)] * (images.ndim - 3), mode="edge")
    return sum(padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)) / np.float32(9)


def variants(seeds, shift: int, blur: bool = True) -> np.ndarray:
    """``[S, V, P]``: each seed under every shift, then (``blur``) its :func:`box_blur` under every
    shift, ``V = (2 if blur else 1) (2 shift + 1)^2``."""
    out = shifted(seeds, shift)
    return np.concatenate([out, shifted(box_blur(seeds), shift)], axis=1) if blur else out


def _blend_errors(x_norms, dots_u, dots_w, gram, norms_u, norms_w, alpha_range) -> np.ndarray:
    """``[N]``: ``min ||g - w - a (u - w)||^2`` over every variant ``u`` of one seed, ``w`` of another
    (or the same) and ``a`` in ``alpha_range``, from dot products only (``dots_*``: ``[N, V]`` of
    ``g . u``; ``gram``: ``[V, V]`` of ``u . w``): ``||g - w||^2 = |g|^2 - 2 g.w + |w|^2``,
    ``b = (g - w).(u - w) = g.u - g.w - u.w + |w|^2``, ``d = ||u - w||^2 = |u|^2 + |w|^2 - 2 u.w``;
    the error is ``||g - w||^2 - 2 a b + a^2 d`` at ``a = clip(b / d, lo, hi)``."""
    d = norms_u[:, None] + norms_w[None, :] - 2 * gram  # [V, V]
    same = d <= 0  # identical variants: every a gives w itself (b = 0 there)
    inv_d = np.where(same, 0.0, 1.0 / np.where(same, 1.0, d)).astype(np.float32)
    b = dots_u[:, :, None] - dots_w[:, None, :] + (norms_w[None, :] - gram)  # [N, V, V]
    a = np.clip(b * inv_d, np.float32(alpha_range[0]), np.float32(alpha_range[1]))
    to_w = x_norms[:, None] - 2 * dots_w + norms_w  # [N, V]
    return (to_w[:, None, :] + a * (a * d - 2 * b)).reshape(len(x_norms), -1).min(axis=1)


class SeedTable(NamedTuple):
    """One class's seed variants and every dot product among them (what each image reuses)."""

    flat: np.ndarray  # [S * V, P] float32 variants, seed-major
    gram: np.ndarray  # [S, S, V, V]: gram[i, j] holds u . w for u in V(s_i), w in V(s_j)
    norms: np.ndarray  # [S, V]: |u|^2


def seed_table(seeds, shift: int = DEFAULT_SHIFT, blur: bool = True) -> SeedTable:
    """The :class:`SeedTable` of one class's ``seeds`` (:func:`variants`)."""
    moved = variants(seeds, shift, blur)  # [S, V, P]
    num_seeds, num_variants, pixels = moved.shape
    flat = moved.reshape(num_seeds * num_variants, pixels)
    gram = (flat @ flat.T).reshape(num_seeds, num_variants, num_seeds, num_variants).transpose(0, 2, 1, 3)
    return SeedTable(flat, gram, np.einsum("ivp,ivp->iv", moved, moved))


def exposure_errors(images, seeds, *, shift: int = DEFAULT_SHIFT, alpha_range=DEFAULT_ALPHA_RANGE,
                    blur: bool = True, table: SeedTable | None = None,
                    chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(e1, e2)``, each ``[N]`` per-pixel MSE (float64 of float32 sums), of ``images`` against one
    class's ``seeds`` (module doc): ``e1`` the best single seed (a variant, or a smear of two
    variants of it), ``e2`` the best blend of two distinct seeds (``inf`` with fewer than two
    seeds).  ``table``: the seeds' :func:`seed_table`, when already built (``seeds`` is then
    unused); ``chunk`` images at a time bound the memory (``chunk x V^2`` floats)."""
    _check(DEFAULT_RATIO, shift, alpha_range)
    table = seed_table(seeds, shift, blur) if table is None else table
    num_seeds, num_variants = table.norms.shape
    pixels = table.flat.shape[1]
    x = np.asarray(images, np.float32).reshape(len(images), -1)
    if x.shape[1] != pixels:
        raise ValueError(f"images have {x.shape[1]} pixels, seeds {pixels}")
    gram, norms = table.gram, table.norms
    e1, e2 = np.empty(len(x), np.float32), np.full(len(x), np.inf, np.float32)
    for start in range(0, len(x), chunk):
        rows = x[start:start + chunk]
        dots = (rows @ table.flat.T).reshape(len(rows), num_seeds, num_variants).transpose(1, 0, 2)
        x_norms = np.einsum("np,np->n", rows, rows)
        best = [(x_norms[:, None] - 2 * dots[i] + norms[i]).min(axis=1) for i in range(num_seeds)]
        best += [_blend_errors(x_norms, dots[i], dots[i], gram[i, i], norms[i], norms[i], alpha_range)
                 for i in range(num_seeds)]  # one seed smeared over two of its variants
        e1[start:start + chunk] = np.min(best, axis=0)
        pairs = [_blend_errors(x_norms, dots[i], dots[j], gram[i, j], norms[i], norms[j], alpha_range)
                 for i in range(num_seeds) for j in range(i + 1, num_seeds)]
        if pairs:
            e2[start:start + chunk] = np.min(pairs, axis=0)
    return (np.maximum(e1, 0.0).astype(np.float64) / pixels,
            np.maximum(e2, 0.0).astype(np.float64) / pixels)


def double_exposures(images, labels, seed_images, seed_labels, *, ratio: float = DEFAULT_RATIO,
                     shift: int = DEFAULT_SHIFT, alpha_range=DEFAULT_ALPHA_RANGE, blur: bool = True,
                     tables: dict | None = None) -> np.ndarray:
    """``[N]`` bool: image ``n`` is a double exposure of the seeds of its class ``labels[n]``,
    ``e2 < ratio * e1`` and ``e1 > EXACT`` (module doc).  Images of a class without two seeds: False.

    ``tables``: a dict that caches each class's :func:`seed_table` across calls (most of the cost);
    pass the same one only with the same seeds, ``shift`` and ``blur``."""
    _check(ratio, shift, alpha_range)
    images = np.asarray(images)
    labels, seed_labels = np.asarray(labels).reshape(-1), np.asarray(seed_labels).reshape(-1)
    seed_images = np.asarray(seed_images)
    if len(labels) != len(images) or len(seed_labels) != len(seed_images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images, "
                         f"{len(seed_labels)} seed labels for {len(seed_images)} seeds")
    tables = {} if tables is None else tables
    flags = np.zeros(len(images), bool)
    for cls in np.unique(labels):
        mine, own = labels == cls, seed_labels == cls
        if own.sum() < 2:
            continue
        if cls.item() not in tables:
            tables[cls.item()] = seed_table(seed_images[own], shift, blur)
        e1, e2 = exposure_errors(images[mine], None, shift=shift, alpha_range=alpha_range,
                                 table=tables[cls.item()])
        flags[mine] = (e1 > EXACT) & (e2 < ratio * e1)
    return flags


def double_exposure_share(images, labels, seed_images, seed_labels, **options) -> dict:
    """``{"share": pooled share of flagged images, "per_class": {class: share}}`` of
    :func:`double_exposures` (``options``: ratio, shift, alpha_range, blur)."""
    flags = double_exposures(images, labels, seed_images, seed_labels, **options)
    labels = np.asarray(labels).reshape(-1)
    per_class = {c.item(): float(flags[labels == c].mean()) for c in np.unique(labels)}
    return {"share": float(flags.mean()) if len(flags) else None, "per_class": per_class}
