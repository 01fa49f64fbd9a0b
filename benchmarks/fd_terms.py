"""Where a row's Fréchet distance comes from: its two terms, and its spread within and between classes.

``FD = mean + covariance`` (:func:`augintae_tf.metrics.frechet.frechet_terms`): ``mean`` is how
far the row's centre sits from the comparison set's, ``covariance`` how differently it spreads.
The spread itself splits by class (:func:`augintae_tf.metrics.frechet.class_spread`):
``within`` (how much a class varies) and ``between`` (how far apart the classes lie), which add
up to the trace of the row's covariance.  All in the quality classifier's features, against the
comparison set, on the rows of the quality table; the reference rows are built as
:func:`augintae_tf.metrics.fewshot_quality.fewshot_quality` builds them (seed 0).

Read with the comparison set's own ``within`` and ``between`` (its line in the table): a row
whose ``between`` is well below it makes images the classifier finds less typical of their
class; one with the comparison's spread and a large ``covariance`` term varies in other
directions than real images do.  Printed and written by ``seed_scoring.py`` for every row of
``seed_warps.py``, ``seed_centred.py`` and ``episode_flows.py``.
"""
from __future__ import annotations

import numpy as np

from augintae_tf.metrics.frechet import class_spread, frechet_terms

COMPARISON = "comparison set (the reference)"


def fd_terms(generated: dict, images, labels, plan, split, embed, affine) -> dict:
    """``{row: {"fd", "mean", "covariance", "within", "between", "images"}}`` for every row of
    ``generated`` (plan images), the floor, the copies and the augmented copies (``affine``,
    seed 0), and the comparison set's ``within`` / ``between``."""
    from augintae_tf.metrics.reference_rows import seed_augmented, seed_copies

    images, labels = np.asarray(images, np.float32), np.asarray(labels).reshape(-1)
    sets = {name: (made, plan.class_label) for name, made in generated.items()}
    sets.update({"floor": (images[split.floor], labels[split.floor]),
                 "seed_copies": (seed_copies(images, plan), plan.class_label),
                 "seed_augmented": (seed_augmented(images, plan, affine, 0), plan.class_label)})
    reference = np.asarray(embed(images[split.comparison]), np.float64)
    out = {}
    for name, (made, row_labels) in sets.items():
        features = np.asarray(embed(np.asarray(made, np.float32)), np.float64)
        terms = frechet_terms(features, reference)
        out[name] = {"fd": terms["mean"] + terms["covariance"], **terms,
                     **class_spread(features, row_labels), "images": len(features)}
    out[COMPARISON] = {**class_spread(reference, labels[split.comparison]),
                       "images": len(reference)}
    return out


def terms_table(terms: dict) -> str:
    """Markdown: one line per row of :func:`fd_terms`."""
    def cell(value):
        return "" if value is None else f"{value:.1f}"

    lines = ["| row | n | FD | mean term | covariance term | within | between |",
             "|---|---|---|---|---|---|---|"]
    for name, row in terms.items():
        lines.append(f"| {name} | {row['images']} | {cell(row.get('fd'))} | "
                     f"{cell(row.get('mean'))} | {cell(row.get('covariance'))} | "
                     f"{cell(row['within'])} | {cell(row['between'])} |")
    return "\n".join(lines)
