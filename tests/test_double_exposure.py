"""The double-exposure test: a blend of two seeds vs one (shifted, blurred, self-smeared) seed."""
import itertools

import numpy as np
import pytest

from augintae_tf.errors import RunError
from augintae_tf.evaluation.options import check_double_exposure
from augintae_tf.metrics.double_exposure import (double_exposure_share, double_exposures,
                                                 exposure_errors, shifted)

SIZE = 16


def move(image, dy, dx):
    """The image moved by (dy, dx), border pixels repeated (explicit loops: the reference)."""
    h, w = image.shape[:2]
    out = np.empty_like(image)
    for y in range(h):
        for x in range(w):
            out[y, x] = image[min(max(y - dy, 0), h - 1), min(max(x - dx, 0), w - 1)]
    return out


def blur3(image):
    h, w = image.shape[:2]
    out = np.zeros_like(image)
    for y, x, i, j in itertools.product(range(h), range(w), (-1, 0, 1), (-1, 0, 1)):
        out[y, x] += image[min(max(y + i, 0), h - 1), min(max(x + j, 0), w - 1)] / 9
    return out


def brute_force_errors(image, seeds, shift, blur):
    """(e1, e2) by enumerating every variant, pair and a on a fine grid of [0.25, 0.75]."""
    shifts = [(dy, dx) for dy in range(-shift, shift + 1) for dx in range(-shift, shift + 1)]
    variants = [[move(base, *t) for base in ([s, blur3(s)] if blur else [s]) for t in shifts]
                for s in seeds]
    alphas = np.linspace(0.25, 0.75, 2001)[:, None, None]

    def blend_error(u, w):
        return float(np.min(np.mean((image - (alphas * u + (1 - alphas) * w)) ** 2, axis=(1, 2))))

    e1 = min(min(np.mean((image - u) ** 2) for u in vs) for vs in variants)
    e1 = min([e1] + [blend_error(u, w) for vs in variants for u in vs for w in vs])
    e2 = min(blend_error(u, w) for i, j in itertools.combinations(range(len(seeds)), 2)
             for u in variants[i] for w in variants[j])
    return e1, e2


@pytest.mark.parametrize("blur", [False, True])
def test_errors_against_explicit_loops_on_a_tiny_case(blur):
    rng = np.random.default_rng(3)
    seeds = rng.uniform(0, 1, (3, 4, 4))
    images = np.stack([rng.uniform(0, 1, (4, 4)), 0.4 * seeds[0] + 0.6 * move(seeds[2], 1, 0)])
    e1, e2 = exposure_errors(images[..., None], seeds[..., None], shift=1, blur=blur)
    for n, image in enumerate(images):
        want1, want2 = brute_force_errors(image, seeds, 1, blur)
        # the module minimises a exactly, the reference on a grid: never worse, at most a hair better
        assert want1 - 1e-5 <= e1[n] <= want1 + 1e-6 and want2 - 1e-5 <= e2[n] <= want2 + 1e-6
    assert e2[1] == pytest.approx(0.0, abs=1e-6) and e1[1] > 0.01


def test_shifted_matches_the_loop_reference():
    image = np.random.default_rng(0).uniform(0, 1, (1, 5, 6)).astype(np.float32)
    moved = shifted(image, 2).reshape(5, 5, 5, 6)  # [dy, dx] from -2
    for dy, dx in itertools.product(range(-2, 3), range(-2, 3)):
        np.testing.assert_array_equal(moved[dy + 2, dx + 2], move(image[0], dy, dx))


def stroke_shapes():
    """Four strokes of one 'class' on 16x16: a bar, a bar crossing it, a box corner, and the first
    bar drawn one pixel longer (two near-identical seeds: their offset blend mimics a thick bar)."""
    shapes = np.zeros((4, SIZE, SIZE, 1), np.float32)
    shapes[0, 3:13, 7:9] = 1  # vertical bar
    shapes[1, 7:9, 3:13] = 1  # horizontal bar
    shapes[2, 3:5, 3:12] = 1  # an "L": top and left
    shapes[2, 3:13, 3:5] = 1
    shapes[3, 2:13, 7:9] = 1
    return shapes


def flags_of(images, seeds, **options):
    return double_exposures(images, np.zeros(len(images)), seeds, np.zeros(len(seeds)), **options)


def test_a_crossfade_of_two_shifted_shapes_is_a_double_exposure():
    seeds = stroke_shapes()
    images = np.stack([0.5 * move(seeds[0], 1, -1) + 0.5 * move(seeds[1], -2, 0),
                       0.3 * seeds[2] + 0.7 * move(seeds[1], 0, 2),
                       0.5 * seeds[0] + 0.5 * seeds[2]])
    assert flags_of(images, seeds).tolist() == [True, True, True]
    # blurred as a decoder would: still two shapes
    blurred = np.stack([blur3(image) for image in images])
    assert flags_of(blurred, seeds).tolist() == [True, True, True]
    # beyond the shift range the offset shape is not explained, and no longer a clean blend
    far = 0.5 * move(seeds[0], 0, 3) + 0.5 * seeds[1]
    e1, e2 = exposure_errors(far[None], seeds, shift=2)
    assert e2[0] > 0.01


def test_a_single_shifted_seed_and_an_exact_copy_are_not():
    seeds = stroke_shapes()
    images = np.stack([move(seeds[0], 2, -1), seeds[1], move(seeds[2], -1, 1) * 0.9 + 0.05])
    e1, e2 = exposure_errors(images, seeds)
    assert e1[0] < 1e-12 and e1[1] < 1e-12  # exact copies: e1 = 0, never flagged
    assert flags_of(images, seeds).tolist() == [False, False, False]


def test_another_instance_of_the_class_is_not():
    seeds = stroke_shapes()
    thicker = seeds[0].copy()
    thicker[3:13, 6:10] = 1  # the vertical bar drawn 2 px thicker
    sheared = np.zeros_like(seeds[1])
    for x in range(3, 13):  # the horizontal bar with a slope of one pixel in five
        sheared[7 + (x - 3) // 5:9 + (x - 3) // 5, x] = 1
    shorter = seeds[2].copy()
    shorter[11:13] = 0  # the "L" with a shorter leg
    images = np.stack([thicker, sheared, shorter, blur3(thicker)])
    assert flags_of(images, seeds).tolist() == [False, False, False, False]
    # the thick bar is what a bare test (e1 = best shifted seed) leans towards flagging: seeds 0
    # and 3 moved apart blend into it with half the error (e2 / bare = 0.52 here); the one-seed
    # smear (seed 0 with a shifted copy of itself) explains it at least as well
    e1, e2 = exposure_errors(thicker[None], seeds)
    bare = min(np.mean((thicker - move(seed, dy, dx)) ** 2) for seed in seeds
               for dy in range(-2, 3) for dx in range(-2, 3))
    assert e2[0] < 0.55 * bare and e1[0] <= e2[0] + 1e-6


def test_share_per_class_and_pooled_and_classes_without_two_seeds():
    seeds = stroke_shapes()
    blend = 0.5 * seeds[0] + 0.5 * seeds[1]
    images = np.stack([blend, seeds[0], blend, blend])
    labels = np.array([0, 0, 1, 2])
    seed_images = np.concatenate([seeds, seeds, seeds[:1]])
    seed_labels = np.array([0] * 4 + [1] * 4 + [2])  # class 2 has one seed: no blend exists
    share = double_exposure_share(images, labels, seed_images, seed_labels)
    assert share == {"share": 0.5, "per_class": {0: 0.5, 1: 1.0, 2: 0.0}}
    tables = {}  # the seed tables cached by a first call give the same flags on the next
    first = double_exposures(images, labels, seed_images, seed_labels, tables=tables)
    assert sorted(tables) == [0, 1]
    np.testing.assert_array_equal(double_exposures(images, labels, seed_images, seed_labels,
                                                   tables=tables), first)
    # a stricter ratio keeps the exact blend (e2 = 0) and loses nothing it should not
    assert double_exposures(images, labels, seed_images, seed_labels, ratio=0.01).tolist() == [
        True, False, True, False]


def test_bad_options():
    seeds = stroke_shapes()
    with pytest.raises(ValueError, match=r"double-exposure ratio must be in \(0, 1\], got 1.5"):
        flags_of(seeds, seeds, ratio=1.5)
    with pytest.raises(ValueError, match="double-exposure shift must be an integer >= 0, got -1"):
        flags_of(seeds, seeds, shift=-1)
    with pytest.raises(RunError) as error:
        check_double_exposure(0.0, 2)
    assert str(error.value) == "--double-exposure-ratio must be a number in (0, 1], got 0.0"
    with pytest.raises(RunError) as error:
        check_double_exposure(0.5, 5)
    assert str(error.value) == "--double-exposure-shift must be an integer from 0 to 4 (pixels), got 5"
    check_double_exposure(1, 0)  # the bounds themselves are allowed


@pytest.mark.parametrize("args, message", [
    (["--double-exposure-ratio", "2"], "--double-exposure-ratio must be a number in (0, 1], got 2.0"),
    (["--double-exposure-shift", "-1"], "--double-exposure-shift must be an integer from 0 to 4 "
                                        "(pixels), got -1"),
])
@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_cli_rejects_bad_double_exposure_options_in_one_line(tmp_path, command, args, message):
    from click.testing import CliRunner

    from augintae_tf.cli.main import main

    run = ["--run-dir", str(tmp_path)] if command == "evaluate" else [str(tmp_path), "--out",
                                                                      str(tmp_path / "out")]
    result = CliRunner().invoke(main, [command, *run, *args])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {message}"


def test_option_errors_come_before_tensorflow(tmp_path):
    from conftest import run_python

    done = run_python("import sys\nfrom click.testing import CliRunner\n"
                      "from augintae_tf.cli.main import main\n"
                      f"r = CliRunner().invoke(main, ['compare', {str(tmp_path)!r}, '--out', "
                      f"{str(tmp_path / 'out')!r}, '--double-exposure-shift', '5'])\n"
                      "print(r.exit_code, r.output.strip())\nprint('tensorflow' in sys.modules)")
    assert done.stdout.splitlines() == [
        "1 Error: --double-exposure-shift must be an integer from 0 to 4 (pixels), got 5", "False"], done.stderr
