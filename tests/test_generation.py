"""Few-shot generation and interpolation from a trained run."""
import numpy as np
import pytest

from augintae_tf.data import load_arrays
from augintae_tf.data.seeds import export_class_images
from augintae_tf.errors import RunError
from augintae_tf.inference.generation import pixel_fade, write_generation
from augintae_tf.latent import sample_seed_pairs
from augintae_tf.inference.loaded import load_run
from conftest import tiny_config


@pytest.fixture(scope="module")
def run(tiny_run):
    return load_run(tiny_run)


@pytest.fixture(scope="module")
def novel_seeds():
    """Five images of one held-out (evaluation alphabet) character."""
    images, labels = load_arrays(tiny_config().data, "test", limit=200)
    label = np.bincount(labels).argmax()
    return images[labels == label][:5]


def sample_pairs(num_seeds, num, seed):
    return tuple(t.numpy() for t in sample_seed_pairs(num_seeds, num, seed))


def test_pairs_are_distinct_and_deterministic():
    first, second, alpha = sample_pairs(5, 1000, seed=3)
    assert np.all(first != second) and set(first) == set(range(5)) == set(second)
    assert np.all((alpha > 0) & (alpha < 1)) and abs(alpha.mean() - 0.5) < 0.03
    again = sample_pairs(5, 1000, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip((first, second, alpha), again))
    assert not np.array_equal(alpha, sample_pairs(5, 1000, seed=4)[2])


def test_generate_writes_the_requested_number_of_distinct_images(run, novel_seeds, tmp_path):
    images = run.generate(novel_seeds, num=40, seed=0)
    assert images.shape == (40, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    flat = images.reshape(40, -1)
    assert len(np.unique(flat.round(5), axis=0)) == 40
    np.testing.assert_array_equal(images, run.generate(novel_seeds, num=40, seed=0))
    assert not np.allclose(images, run.generate(novel_seeds, num=40, seed=1))
    grid = write_generation(tmp_path, novel_seeds, images)
    assert grid.name == "grid.png" and len(list(tmp_path.glob("0*.png"))) == 40


def test_generate_refuses_a_single_seed_and_wrong_shapes(run, novel_seeds):
    with pytest.raises(RunError, match="at least 2 seed images, got 1"):
        run.generate(novel_seeds[:1], num=4)
    with pytest.raises(RunError, match=r"shape \[N, 28, 28, 1\] for this run, got \[2, 28, 28, 3\]"):
        run.generate(np.zeros((2, 28, 28, 3), np.float32), num=4)


def test_interpolation_endpoints_decode_to_the_two_reconstructions(run, novel_seeds):
    a, b = novel_seeds[:2]
    path = run.interpolate(a, b, steps=6)
    recon = run.reconstruct(np.stack([a, b]))
    assert path.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(path[0], recon[0], atol=1e-5)
    np.testing.assert_allclose(path[-1], recon[1], atol=1e-5)
    fade = pixel_fade(a, b, 6)
    np.testing.assert_allclose(fade[[0, -1]], np.stack([a, b]), atol=1e-6)


def test_load_run_errors(tmp_path):
    with pytest.raises(RunError, match="is not a run directory"):
        load_run(tmp_path)
    tiny_config().save(tmp_path / "config.yaml")
    with pytest.raises(RunError, match="no checkpoint found"):
        load_run(tmp_path)


def test_export_class_images_picks_one_class(tmp_path):
    labels = np.array([0, 1, 1, 2, 1, 2])
    images = np.random.default_rng(0).random((6, 4, 4, 1)).astype(np.float32)
    label, paths = export_class_images(tmp_path, images, labels, num=3)
    assert label == 1 and [p.name for p in paths] == ["seed-00.png", "seed-01.png", "seed-02.png"]
    with pytest.raises(RunError, match="class 0 has 1 images, fewer than --num 2"):
        export_class_images(tmp_path, images, labels, num=2, label=0)


@pytest.mark.parametrize("channels", [1, 3])
def test_save_pngs_writes_the_bytes_save_png_writes(tmp_path, channels):
    """The batched writer (write_generation's) changes no pixel and no byte of any file."""
    from augintae_tf.images import save_png, save_pngs

    images = np.random.default_rng(channels).uniform(-0.2, 1.2, (7, 9, 9, channels))
    images[0, 0, 0] = 0.5 / 255  # a rounding boundary
    batched = save_pngs([tmp_path / "b" / f"{i}.png" for i in range(7)], images.astype(np.float32))
    for i, path in enumerate(batched):
        single = save_png(tmp_path / "s" / f"{i}.png", images[i].astype(np.float32))
        assert path.read_bytes() == single.read_bytes()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [f"{i}.png" for i in range(7)]
    with pytest.raises(ValueError, match="save_pngs got 2 paths for 7 images"):
        save_pngs([tmp_path / "x.png", tmp_path / "y.png"], images)


def test_labelled_grids_widen_for_long_labels_and_wrap_beyond_the_widest(tmp_path):
    from PIL import Image, ImageDraw

    from augintae_tf.images import (LABEL_WIDTH, MAX_LABEL_WIDTH, _font, _wrap, label_width,
                                    save_labelled_grid)

    rows = [np.zeros((3, 8, 8, 1), np.float32)] * 2
    short = save_labelled_grid(tmp_path / "short.png", rows, ["a", "b"], upscale=12)
    run = "00003-my-rgb-shapes-folder-augintae-latent128"  # cut to "00003-my-rgb-sh…" before
    wide = save_labelled_grid(tmp_path / "wide.png", rows, ["a", run], upscale=12)
    assert Image.open(short).width == LABEL_WIDTH + (2 + 3 * 10) * 12
    assert LABEL_WIDTH < label_width([run]) < MAX_LABEL_WIDTH
    assert Image.open(wide).width == label_width([run]) + (2 + 3 * 10) * 12
    draw, font = ImageDraw.Draw(Image.new("L", (1, 1))), _font()
    longer = "/".join([run] * 3)
    lines = _wrap(draw, longer, font, label_width([longer]) - 8, max_lines=5)
    assert label_width([longer]) == MAX_LABEL_WIDTH and len(lines) > 1
    assert "".join(lines) == longer  # broken after "/" or "-": nothing lost, no ellipsis
    assert all(draw.textlength(line, font=font) <= MAX_LABEL_WIDTH - 8 for line in lines)
    cut = _wrap(draw, longer, font, 100, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith("…")  # a row too short for it all


def test_one_seed_samplers_generate_from_a_single_seed(run, novel_seeds):
    """One-shot generation: local and local-edit start from one seed, so K = 1 is enough;
    the others refuse it in one line, and K >= 2 draws the same pairs as before."""
    for sampler in ("local", "local-edit"):
        images = run.generate(novel_seeds[:1], num=6, seed=0, sampler=sampler)
        assert images.shape == (6, 28, 28, 1) and np.all((images >= 0) & (images <= 1))
        assert np.abs(images[0] - images[1]).max() > 0  # six different images, not one copy
        np.testing.assert_array_equal(
            images, run.generate(novel_seeds[:1], num=6, seed=0, sampler=sampler))
    for sampler in ("slerp", "slerp-local", "convex"):
        with pytest.raises(RunError, match=f"^few-shot generation by {sampler} needs at least 2 "
                                           "seed images, got 1$"):
            run.generate(novel_seeds[:1], num=4, sampler=sampler)
    one = [t.numpy() for t in sample_seed_pairs(1, 50, 7, min_seeds=1)]
    assert np.all(one[0] == 0) and np.all(one[1] == 0)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in
               zip(sample_seed_pairs(5, 200, 3, min_seeds=1), sample_seed_pairs(5, 200, 3)))


def test_a_failed_write_leaves_out_as_it_was_found_and_the_retry_works(tmp_path, monkeypatch):
    from augintae_tf.inference import generation

    images = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    save_pngs, calls = generation.save_pngs, []

    def failing(paths, chunk):  # the disk fills while the second chunk is written
        calls.append(len(paths))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return save_pngs(paths, chunk)

    monkeypatch.setattr(generation, "save_pngs", failing)
    empty = tmp_path / "empty"
    empty.mkdir()
    for out, was in ((tmp_path / "absent", None), (empty, [])):
        calls.clear()
        with pytest.raises(OSError):
            generation.write_generation_chunks(out, images[:2], [images[:2], images[2:]], 4)
        assert (sorted(out.iterdir()) if out.exists() else None) == was
    with pytest.raises(RunError):  # a generation failing in its first chunk: OUT never touched
        generation.write_generation_chunks(tmp_path / "first", images[:2], _failing_first(), 4)
    assert not (tmp_path / "first").exists()
    monkeypatch.undo()
    grid = generation.write_generation_chunks(tmp_path / "absent", images[:2],
                                              [images[:2], images[2:]], 4)
    assert sorted(p.name for p in grid.parent.iterdir()) == [
        ".generated.json", "00000.png", "00001.png", "00002.png", "00003.png", "grid.png"]


def _failing_first():
    raise RunError("few-shot generation needs at least 2 seed images, got 1")
    yield  # a generator: the error comes when the first chunk is asked for


def test_generate_into_writes_what_generate_makes_and_returns_its_lines(run, novel_seeds,
                                                                         tmp_path, capsys):
    """The CLI's writing verb and the Python API share one path: the same images (PNG-quantised),
    the same lines, and nothing printed (the lines are data for the caller to say)."""
    from augintae_tf.data import load_image_files

    capsys.readouterr()
    out = tmp_path / "out"
    done = run.generate_into(out, novel_seeds, num=6, seed=3)
    assert capsys.readouterr() == ("", "")
    assert (done.out, done.grid, done.count, done.seeds) == (out, out / "grid.png", 6,
                                                               len(novel_seeds))
    assert done.checkpoint == run.checkpoint and done.sampler == run.model.check_sampler(None)
    assert list(done.lines) == run.fewshot_lines(novel_seeds)
    assert done.novelty.text.startswith("novelty: median distance to the nearest seed")
    written = load_image_files(sorted(out.glob("0*.png")), 28, 1)[0]
    assert np.abs(written - run.generate(novel_seeds, 6, 3, warn=None)).max() <= 1 / 255 + 1e-6
    with pytest.raises(RunError, match=r"^--seeds s/ holds 1 image; the run's sampler "):
        run.generate_into(tmp_path / "one", novel_seeds[:1], num=2, source="s/")
    assert not (tmp_path / "one").exists()


def test_reconstruct_into_and_interpolate_into_write_and_report(run, novel_seeds, tmp_path):
    images = np.concatenate([novel_seeds, novel_seeds[:1]])  # three inputs, in this order
    done = run.reconstruct_into(tmp_path / "recon", images)
    recon = run.reconstruct(images)
    assert done.count == 3 and done.grid == tmp_path / "recon" / "grid.png"
    assert done.mse == pytest.approx(float(np.mean(np.square(recon - images))))
    assert sorted(p.name for p in (tmp_path / "recon").glob("*.png")) == [
        "00000.png", "00001.png", "00002.png", "grid.png"]
    shown = run.interpolate_into(*novel_seeds[:2], steps=4, out=tmp_path / "row.png",
                                 gif=tmp_path / "path.gif")
    assert shown.figure == tmp_path / "row.png" and shown.gif == tmp_path / "path.gif"
    assert shown.figure.is_file() and shown.gif.is_file() and shown.steps == 4
