"""The embedded ``glyphs`` dataset: split structure, instance variety, determinism, caching."""
import os
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from augintae_tf.data import glyph_sets, glyphs, label_names

SMALL = {"train": 2, "validation": 1, "test": 2, "far": 2}  # instances per character for the quick renders


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory):
    """A temporary glyph cache (the session's one if already set, so glyphs render once)."""
    path = os.environ.get("AUGINTAE_CACHE_DIR") or str(tmp_path_factory.mktemp("glyph-cache"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUGINTAE_CACHE_DIR", path)
        yield Path(path)


@pytest.fixture(scope="module")
def data():
    return glyphs.load()


def alphabet(name: str) -> str:
    return name.split("/")[0]


def test_splits_have_the_documented_sizes(data):
    names = data["class_names"]
    background, evaluation = glyphs._select()
    near = len(background) + len(evaluation)
    assert 300 <= near <= 500 and len(names) == near + len(glyphs._select_far())
    splits = {"train": range(len(background)), "validation": range(len(background)),
              "test": range(len(background), near), "far": range(near, len(names))}
    for split, classes in splits.items():
        images, labels = data[f"{split}_images"], data[f"{split}_labels"]
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
        assert labels.dtype == np.int32 and len(labels) == len(images)
        counts = np.bincount(labels, minlength=len(names))
        assert set(np.flatnonzero(counts)) == set(classes)
        assert (counts[list(classes)] == glyphs.INSTANCES[split]).all()


def test_background_and_evaluation_alphabets_are_disjoint(data):
    names = [str(n) for n in data["class_names"]]
    assert len(set(names)) == len(names)
    assert all(n.count("/") == 1 and alphabet(n) and n.split("/")[1] for n in names)
    seen = {split: {alphabet(names[i]) for i in np.unique(data[f"{split}_labels"])}
            for split in glyphs.SPLITS}
    assert seen["train"] == seen["validation"] == {a for a, _ in glyphs.BACKGROUND}
    assert seen["test"] == {a for a, _ in glyphs.EVALUATION}
    assert seen["far"] == {a for a, _ in glyph_sets.FAR}
    assert not seen["train"] & seen["test"] and not (seen["train"] | seen["test"]) & seen["far"]
    assert label_names("glyphs", "test") == names


def test_images_are_white_strokes_on_black(data):
    images = data["train_images"].astype(np.float32) / 255.0
    assert (images.max(axis=(1, 2)) > 0.7).all()  # every image has ink
    border = np.concatenate([images[:, :2].ravel(), images[:, -2:].ravel(),
                             images[:, :, :2].ravel(), images[:, :, -2:].ravel()])
    assert border.mean() < 0.02 < images[:, 8:20, 8:20].mean()
    assert images.mean() < 0.3  # mostly black background


def test_instances_of_a_character_differ(data):
    train, labels = data["train_images"], data["train_labels"]
    for label in range(0, labels.max() + 1, 37):
        instances = train[labels == label].reshape(np.sum(labels == label), -1)
        assert len(np.unique(instances, axis=0)) == len(instances)
        assert np.abs(instances[0].astype(int) - instances[1:]).mean() > 5  # not just noise
    # Validation instances are fresh draws: as far from the training instances of their class
    # as training instances are from each other (shared draws would make them much closer).
    seen = {image.tobytes() for image in train}
    assert not any(image.tobytes() in seen for image in data["validation_images"])
    valid, valid_labels = data["validation_images"], data["validation_labels"]
    to_train, within_train = [], []
    for label in range(0, len(glyphs._select()[0]), 7):
        ours = train[labels == label].reshape(-1, 28 * 28).astype(np.float32)
        to_train += [np.abs(ours - v).mean(axis=1).min()
                     for v in valid[valid_labels == label].reshape(-1, 28 * 28)]
        within_train += [np.abs(np.delete(ours, i, axis=0) - ours[i]).mean(axis=1).min()
                         for i in range(len(ours))]
    assert np.median(to_train) > 0.85 * np.median(within_train)


def test_generation_is_deterministic_per_seed(monkeypatch):
    monkeypatch.setattr(glyphs, "INSTANCES", SMALL)
    first, again, other = glyphs.generate(3), glyphs.generate(3), glyphs.generate(4)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    np.testing.assert_array_equal(first["class_names"], other["class_names"])
    np.testing.assert_array_equal(first["test_labels"], other["test_labels"])
    np.testing.assert_array_equal(first["far_labels"], other["far_labels"])
    assert not np.array_equal(first["train_images"], other["train_images"])
    assert not np.array_equal(first["far_images"], other["far_images"])


def test_cache_is_written_once_and_reused(cache_dir, data):
    path = glyphs.cache_path()
    assert path.parent == cache_dir and path.name == f"glyphs-v{glyphs.VERSION}-0.npz"
    assert glyphs.VERSION >= 2  # v1 caches (no far split) are never read
    glyphs._load.cache_clear()
    reloaded = glyphs.load()
    for key in data:
        np.testing.assert_array_equal(reloaded[key], data[key])
    assert not reloaded["train_images"].flags.writeable  # shared arrays are read-only


def test_corrupt_cache_is_regenerated(monkeypatch, cache_dir):
    monkeypatch.setattr(glyphs, "INSTANCES", SMALL)
    path = glyphs.cache_path(seed=9)
    path.write_bytes(b"not a zip archive")
    data = glyphs.load(seed=9)
    assert len(data["train_images"]) == 2 * len(glyphs._select()[0])
    with np.load(path) as archive:
        assert set(archive.files) == set(data)
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]


def test_only_fonts_that_cover_a_character_are_used():
    background, evaluation = glyphs._select()
    counts = {}
    for char in background + evaluation:
        assert char.fonts and not any("LastResort" in f for f in char.fonts)
        assert all(ord(char.text) in glyphs._cmap(f) for f in char.fonts)
        counts[char.alphabet] = counts.get(char.alphabet, 0) + 1
    assert len(counts) == len(glyphs.BACKGROUND) + len(glyphs.EVALUATION)
    assert all(10 <= n <= glyphs.MAX_PER_ALPHABET for n in counts.values())


def test_cache_without_the_far_split_is_regenerated(monkeypatch, cache_dir):
    monkeypatch.setattr(glyphs, "INSTANCES", SMALL)
    path = glyphs.cache_path(seed=11)
    old = {k: v for k, v in glyphs.generate(11).items() if not k.startswith("far_")}
    with open(path, "wb") as handle:
        np.savez(handle, **old)
    data = glyphs.load(seed=11)
    assert len(data["far_images"]) == 2 * len(glyphs._select_far())
    with np.load(path) as archive:
        assert {"far_images", "far_labels"} <= set(archive.files)


def test_far_split_holds_symbols_unlike_the_letters(data):
    background, evaluation = glyphs._select()
    far = glyphs._select_far()
    images, labels = glyphs.split_arrays("far")
    assert images.shape == (len(far) * glyphs.INSTANCES["far"], 28, 28, 1)
    assert images.dtype == np.uint8 and labels.dtype == np.int32
    assert 0.8 <= len(far) / len(evaluation) <= 1.2  # about as many classes as test
    near = len(background) + len(evaluation)
    assert sorted(np.unique(labels)) == list(range(near, near + len(far)))
    for split in ("train", "validation", "test"):
        assert not set(np.unique(data[f"{split}_labels"])) & set(np.unique(labels))
    letters = {c.text for c in background + evaluation}
    assert not letters & {c.text for c in far}
    assert all(unicodedata.category(c.text) in ("So", "Sm") for c in far)
    assert {c.alphabet for c in far} == {name for name, _ in glyph_sets.FAR}
    assert [str(n) for n in data["class_names"][near:]][:1] == ["arrows/leftwards-arrow"]
    # No far symbol is even loosely like a kept letter: mean |difference| of canonical renders
    # at least FAR_DUPLICATE of the inkier one's mean (an independent all-pairs check).
    def canon(chars):
        return np.stack([glyphs._pool(glyphs._render(c, c.fonts[0], 20.0, 14, 14, 0)[None])[0]
                         for c in chars]).reshape(len(chars), -1)

    ours, theirs = canon(far), canon(background + evaluation)
    diff = np.abs(ours[:, None] - theirs[None]).mean(axis=2)
    ink = np.maximum(ours.mean(axis=1)[:, None], theirs.mean(axis=1)[None])
    assert (diff >= glyph_sets.FAR_DUPLICATE * ink).all()
