"""benchmarks/seed_warps.py: the morph's pair bookkeeping, the stroke-width bounds, the
neighbour pairs, the fields less their affine part, the row check and the refiner (the warp and the
registration: tests/test_deform.py)."""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import seed_warps  # noqa: E402
from test_deform import blobs as _blobs  # noqa: E402


def test_reverse_pairs_finds_each_pairs_reverse():
    for k in (2, 3, 5):
        ii, jj = np.nonzero(~np.eye(k, dtype=bool))
        back = seed_warps.reverse_pairs(ii, jj, k)
        assert np.array_equal(ii[back], jj) and np.array_equal(jj[back], ii)


def test_morph_of_identical_seeds_is_the_seed_and_warps_keep_the_range():
    seed = _blobs(1, seed=2)
    seeds = np.repeat(seed, 3, axis=0)
    morphs = seed_warps.seed_morph("morph")(seeds, 4, 0)
    np.testing.assert_allclose(morphs, np.repeat(seed, 4, axis=0), atol=1e-3)
    moved = seed_warps.elastic()(_blobs(3), 6, 0)
    assert moved.shape == (6, 28, 28, 1) and moved.min() >= 0 and moved.max() <= 1


def test_thickness_stays_between_erosion_and_dilation():
    seeds = _blobs(2, seed=3)
    out = seed_warps.thickness()(seeds, 8, 0)
    rng = np.random.default_rng(0)
    source = seeds[rng.integers(2, size=8)]
    import tensorflow as tf
    dilated = tf.nn.max_pool2d(source, 3, 1, "SAME").numpy()
    eroded = -tf.nn.max_pool2d(-source, 3, 1, "SAME").numpy()
    assert np.all(out <= dilated + 1e-6) and np.all(out >= eroded - 1e-6)
    assert not np.allclose(out, source)


def test_unknown_row_is_one_line_naming_the_option(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["seed_warps.py", "--run", "x", "--out", "y.json",
                                      "--rows", "morph,blob"])
    with pytest.raises(SystemExit) as exit_info:
        seed_warps.parse_args()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "error: --rows: unknown row 'blob'; choose from " + ", ".join(seed_warps.ROWS))


def test_neighbour_pairs_pair_each_image_with_its_nearest():
    a, b = _blobs(2, seed=4)
    images = np.stack([a, 0.95 * a, b, 0.95 * b])  # two pairs of near twins
    src, dst = seed_warps.neighbour_pairs(images, pairs=12, neighbours=1, seed=0)
    assert set(src) == {0, 1, 2, 3}
    assert np.array_equal(dst, src ^ 1)  # 0 <-> 1, 2 <-> 3
    _, dst = seed_warps.neighbour_pairs(images, pairs=40, neighbours=3, seed=0)
    assert np.all(dst != seed_warps.neighbour_pairs(images, 40, 3, 0)[0])  # never itself


def test_fit_bank_keeps_the_pairs_registration_explains():
    shape, other = _blobs(2, seed=6)
    moved = np.roll(shape, 2, axis=1)  # class 0: one shape and the same shape 2 px right
    noise = np.random.default_rng(1).uniform(size=shape.shape).astype(np.float32)
    images = np.stack([shape, moved, other, noise])  # class 1: a shape and noise
    kept = seed_warps.fit_bank(images, [0, 0, 1, 1], pairs=4, candidates=24, seed=0)
    assert kept.shape == (4, 28, 28, 2)
    centre = np.abs(kept[:, 8:20, 8:20, 1].mean(axis=(1, 2)))
    np.testing.assert_allclose(centre, 2.0, atol=0.4)  # every kept field is the 2-px move


def test_without_affine_removes_exactly_the_least_squares_affine_part():
    rng = np.random.default_rng(0)
    g = 6
    y, x = np.meshgrid(np.linspace(-1, 1, g), np.linspace(-1, 1, g), indexing="ij")
    t, m = rng.normal(size=(3, 2)), rng.normal(size=(3, 2, 2))
    affine = t[:, None, None] + np.einsum("pcd,dyx->pyxc", m, np.stack([y, x]))
    np.testing.assert_allclose(seed_warps.without_affine(affine), 0.0, atol=1e-5)
    lattices = rng.normal(size=(4, g, g, 2))
    rest = seed_warps.without_affine(lattices)
    # against numpy's least-squares fit of (1, y, x) to each lattice's dy and dx
    design = np.stack([np.ones(g * g), y.ravel(), x.ravel()], 1)
    for lat, got in zip(lattices, rest):
        coef = np.linalg.lstsq(design, lat.reshape(-1, 2), rcond=None)[0]
        want = lat.reshape(-1, 2) - design @ coef
        np.testing.assert_allclose(got.reshape(-1, 2), want, atol=1e-5)
    np.testing.assert_allclose(seed_warps.without_affine(rest), rest, atol=1e-5)
    np.testing.assert_allclose(seed_warps.without_affine(lattices + affine[:1]), rest, atol=1e-5)


def test_refiner_starts_as_the_identity_and_learns_to_sharpen_warped_edges():
    """Squares under a half-pixel shift have grey edges that no real square has: the patch
    discriminator sees them, and the refiner learns to redraw them (``refiner.py``)."""
    from refiner import refined, train_refiner
    from augintae_tf.models.deform import warp

    rng = np.random.default_rng(0)
    images = np.zeros((64, 8, 8, 1), np.float32)
    for square, (y, x) in zip(images, rng.integers(1, 4, size=(64, 2))):
        square[y:y + 4, x:x + 4] = 1.0
    fields = np.full((4, 8, 8, 2), 0.5, np.float32)
    shifted = np.clip(warp(images, fields[:1].repeat(64, 0)).numpy(), 0, 1)

    def grey(a):
        return float(np.mean((a > 0.2) & (a < 0.8)))

    identity = train_refiner(images, fields, steps=0, width=8)
    np.testing.assert_array_equal(identity.predict(shifted, verbose=0), shifted)
    refiner = train_refiner(images, fields, steps=1000, width=8)
    out = refined(lambda seeds, count, seed: shifted[:count], refiner)(None, 64, 0)
    assert grey(images) == 0.0 and grey(shifted) == 0.25
    assert grey(out) < 0.1, grey(out)
    assert out.shape == shifted.shape and out.min() >= 0.0 and out.max() <= 1.0
    assert np.mean(np.abs(out - shifted)) < 0.2  # redrawn edges, not other images
