"""When a figure of the few-shot quality table (:mod:`.fewshot_quality`) means nothing, and says so.

A value is *withheld* (``None`` in the row, kept under ``result["withheld"]["values"]``, ``?`` in
the table with the reason under it) when the data cannot support it, by rules on the counts or on
the reference rows, the same for every row, never on a model's own value:

* :func:`guard_fd`: a Fréchet distance from fewer than
  :data:`~augintae_tf.metrics.frechet.FD_IMAGES_PER_DIM` images per feature dimension;
* :func:`guard_realism`: a realism within chance when even the pixel cross-fade's is;
* the class columns of a classifier that did not learn
  (:func:`augintae_tf.evaluation.quality.score`).

A value is *marked* (``*`` in the table, the note under it, ``result["marked"][column]``) when it
stands but must be read against a reference row: :func:`mark_double_exposure`.
"""
from __future__ import annotations

from augintae_tf.metrics.frechet import too_few_for_fd
from augintae_tf.metrics.realism import chance_margin, test_size

NOT_ENOUGH = "not enough data to judge"
# The double-exposure test flags 0.5-1.4 % of real images where it was calibrated (glyphs,
# digits: augintae_tf/metrics/double_exposure.py); a floor above this share means it mistakes
# the real images of this data for blends.
FLOOR_EXPOSURE_LIMIT = 0.05


def withhold(result: dict, columns, reason: str, rows=None) -> None:
    """Replace ``columns`` of ``rows`` (default: all) and of their per-class values by None,
    keeping the values under ``result["withheld"]["values"]`` and ``reason`` (one line) under
    ``result["withheld"]["reasons"][column]``: a figure that cannot be judged is not a score."""
    withheld = result.setdefault("withheld", {"reasons": {}, "values": {}})
    for name in rows if rows is not None else list(result["rows"]):
        kept = withheld["values"].setdefault(name, {})
        for column in columns:
            if result["rows"][name].get(column) is not None:
                kept[column] = result["rows"][name][column]
                result["rows"][name][column] = None
            for values in result.get("per_class", {}).get(name, {}).values():
                if column in values:
                    values[column] = None
    for column in columns:
        withheld["reasons"][column] = reason


def guard_realism(result: dict, comparison: int) -> None:
    """Withhold every realism value within chance of 0.5 (:func:`~.realism.chance_margin` of its
    test size) when the pixel cross-fade's is too: a CNN that cannot tell the cross-fade's double
    images from real ones had too little data, and its 0.5 for another row means nothing.  A
    value clearly above 0.5 stays (that CNN did learn); none is withheld without a cross-fade."""
    rows = result["rows"]

    def within_chance(name) -> bool:
        value = rows[name].get("realism")
        n = test_size(comparison, rows[name]["images"])
        return value is not None and value <= 0.5 + chance_margin(n)

    if "crossfade" not in rows or not within_chance("crossfade"):
        return
    shown = rows["crossfade"]["realism"]
    n = test_size(comparison, rows["crossfade"]["images"])
    withhold(result, ["realism"], f"{NOT_ENOUGH}: the realism CNN could not tell even the pixel "
             f"cross-fade from real images ({shown:.2f} on {n} held-out images, chance 0.50 +- "
             f"{chance_margin(n):.2f}); more real images per class help",
             rows=[name for name in rows if within_chance(name)])


def guard_fd(result: dict, dim: int) -> None:
    """Withhold ``fd`` of every row whose images, or the comparison set, are too few for a
    Fréchet distance in ``dim`` features (:func:`~.frechet.too_few_for_fd`), and
    ``fd_class_mean`` of every row whose smallest class is (its row or comparison images): a rule
    on the counts alone, the same for every row.  The reason names the fewest images involved."""
    comparison, classes = result["counts"]["comparison_images"], result["per_class"]
    pooled = {name: min(row["images"], comparison) for name, row in result["rows"].items()}
    per_class = {name: min((min(v["images"], v.get("comparison_images", v["images"]))
                            for v in classes.get(name, {}).values()), default=0)
                 for name in result["rows"]}
    for column, counts, what in (("fd", pooled, "images in a row or the comparison set"),
                                 ("fd_class_mean", per_class, "images in a row's smallest class")):
        short = [name for name, n in counts.items() if too_few_for_fd(n, dim)]
        if short:
            withhold(result, [column], too_few_for_fd(min(counts[n] for n in short), dim, what),
                     rows=short)


def mark_double_exposure(result: dict) -> None:
    """Mark the ``double_exposure`` column when the floor row (held-out real images) is flagged
    in more than :data:`FLOOR_EXPOSURE_LIMIT` of its images: the test's false-alarm rate on this
    data, which every row's share includes."""
    floor = result["rows"].get("floor", {})
    share = floor.get("double_exposure")
    if share is None or share <= FLOOR_EXPOSURE_LIMIT:
        return
    flagged = round(share * floor["images"])
    result.setdefault("marked", {})["double_exposure"] = (
        f"the test flags {flagged} of the {floor['images']} held-out real images (floor "
        f"{share:.2f}, above the {FLOOR_EXPOSURE_LIMIT:.2f} it was calibrated within): on these "
        "images it mistakes real images for blends; read each row against the floor, not 0")
