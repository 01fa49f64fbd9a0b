"""benchmarks/fd_terms.py: each row's FD split into its mean and covariance terms and its spread
within and between classes, on the quality table's own rows."""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import fd_terms  # noqa: E402
from augintae_tf.metrics.fewshot import sample_fewshot_plan, sample_seeds  # noqa: E402
from augintae_tf.metrics.fewshot_quality import fewshot_quality  # noqa: E402
from augintae_tf.metrics.reference_rows import real_split  # noqa: E402


def embed(images):
    """A fixed feature map: 2 x 2 average pooling of 6 x 6 images, flattened (9 features)."""
    x = np.asarray(images, np.float64)
    return x.reshape(len(x), 3, 2, 3, 2).mean((2, 4)).reshape(len(x), -1)


def shift(images, seed):  # a deterministic stand-in for the augmented copies' affine
    return np.roll(np.asarray(images), 1 + seed % 2, axis=2)


def test_terms_add_up_to_the_quality_tables_fd_on_every_row():
    rng = np.random.default_rng(0)
    labels = np.repeat([5, 6, 7], 30)
    centres = rng.random((3, 6, 6, 1))
    images = (centres[labels - 5] + 0.3 * rng.random((len(labels), 6, 6, 1))).astype(np.float32)
    plan = sample_fewshot_plan(labels, 3, 60, 0)
    seeds = sample_seeds(labels, 3, 0)
    split = real_split(labels, plan, seed=0, seeds=seeds)
    generated = {"noisy copies": images[plan.index_a] + 0.05 * rng.random(images[plan.index_a].shape)}
    terms = fd_terms.fd_terms(generated, images, labels, plan, split, embed, shift)
    quality = fewshot_quality(generated, plan, images, labels, embed, seeds=seeds, seed=0,
                              augment_fn=shift, realism_min_steps=1, realism_epochs=1)
    for name in ("noisy copies", "floor", "seed_copies", "seed_augmented"):
        row = terms[name]
        assert row["fd"] == pytest.approx(quality["rows"][name]["fd"], rel=1e-9), name
        assert row["mean"] + row["covariance"] == pytest.approx(row["fd"], rel=1e-12)
        assert row["images"] == quality["rows"][name]["images"]
    comparison = embed(images[split.comparison])
    spread = terms[fd_terms.COMPARISON]
    assert spread["within"] + spread["between"] == pytest.approx(
        np.trace(np.cov(comparison, rowvar=False, ddof=0)), rel=1e-12)
    # three well-separated centres: most of the comparison set's spread lies between classes
    assert spread["between"] > spread["within"]
    table = fd_terms.terms_table(terms).splitlines()
    assert table[0].startswith("| row | n | FD | mean term |") and len(table) == 2 + len(terms)
    assert table[-1].startswith(f"| {fd_terms.COMPARISON} | {len(split.comparison)} |  |  |  | ")
