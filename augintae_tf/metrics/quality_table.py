"""The few-shot quality table: :func:`~augintae_tf.metrics.fewshot_quality.fewshot_quality`'s
result as markdown, a counts line, one row per image set, the withheld (``?``) and marked (``*``)
figures explained under it, and the utility table when the result has one."""
from __future__ import annotations

from augintae_tf.metrics.fewshot_quality import CLASS_METRICS, METRICS
from augintae_tf.metrics.fewshot_utility import utility_table

# the table's columns: the rows' metrics, then what augintae_tf.evaluation.utility.add_utility adds
COLUMNS = METRICS + ("utility", "utility_share")
CLASS_COLUMNS = CLASS_METRICS + ("double_exposure",)  # the per-class table's columns
TITLES = {"floor": "floor: held-out real images", "seed_copies": "copies of the seeds (no model)",
          "seed_augmented": "augmented copies of the seeds (no model)",
          "crossfade": "pixel cross-fade of the seeds (no model)"}
HEADINGS = {"fd": "FD", "fd_class_mean": "FD per class", "class_accuracy": "class acc",
            "precision": "precision", "recall": "recall", "density": "density", "coverage": "coverage",
            "seed_distance": "seed dist", "seed_distance_px": "seed dist px", "realism": "realism",
            "double_exposure": "double exp", "utility": "utility", "utility_share": "util share"}


def _number(value) -> str:
    if value is None:
        return "-"
    size = abs(value)
    return f"{value:.0f}" if size >= 100 else f"{value:.1f}" if size >= 10 else f"{value:.3f}"


def _cell(row: dict, metric: str) -> str:
    if metric == "utility_share" and row.get(metric) is not None:
        return f"{row[metric]:.2f}" + ("*" if row.get("utility_noisy") else "")
    return _number(row.get(metric))


def _markdown(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cells) + " |" for cells in body]


def _exposure_note(counts: dict) -> str:
    if "double_exposure_ratio" not in counts:  # a result written before the column existed
        return ""
    return (f"; double exp = share of images a blend of two seeds fits with under "
            f"{counts['double_exposure_ratio']:g} x the error of one seed "
            f"(shifts up to {counts['double_exposure_shift']} px)")


def _classifier_note(counts: dict) -> str:
    if counts.get("classifier_accuracy") is None:
        return ""
    return ("; class acc and the features: a classifier trained on those held-out images only "
            f"(its own held-out accuracy {counts['classifier_accuracy']:.2f})")


def quality_table(result: dict, *, per_class: bool = False) -> str:
    """Markdown: a counts line, then one row per image set of :func:`fewshot_quality`'s result (and,
    with ``per_class``, a second table with one line per class and set)."""
    rows, counts = result["rows"], result["counts"]
    lines = [f"{counts['classes']} classes, {counts['seeds_per_class']} seeds per class, "
             f"{counts['images']} generated images; scored against {counts['comparison_images']} "
             f"held-out real images (floor: {counts['floor_images']} others); k = {counts['k']}; "
             "realism 0.5 = indistinguishable" + _exposure_note(counts) + _classifier_note(counts),
             ""]
    columns = [m for m in COLUMNS if any(m in row for row in rows.values())]
    kept = result.get("withheld", {}).get("values", {})
    marked = result.get("marked", {})
    body = [[TITLES.get(name, name), str(row["images"])]
            + ["?" if m in kept.get(name, {}) else
               _cell(row, m) + ("*" if m in marked and row.get(m) is not None else "")
               for m in columns]
            for name, row in rows.items()]
    lines += _markdown(["set", "n"] + [HEADINGS[m] for m in columns], body)
    reasons = result.get("withheld", {}).get("reasons", {})
    lines += [""] if reasons or marked else []
    for reason in dict.fromkeys(reasons.values()):
        named = ", ".join(HEADINGS.get(c, c) for c, r in reasons.items() if r == reason)
        lines.append(f"? ({named}) = {reason}")
    lines += [f"* ({HEADINGS.get(c, c)}) = {note}" for c, note in marked.items()]
    if result.get("utility"):
        lines += ["", "utility = accuracy of a few-shot classifier trained on the seeds + the "
                  "row's kind of images (copies: the seeds alone; floor: other real images); "
                  "util share = (utility - copies') / (floor's - copies'), * = within noise",
                  "", utility_table(result["utility"]).rstrip()]
    if per_class:
        columns = [m for m in CLASS_COLUMNS if any(m in v for cls in result["per_class"].values()
                                                   for v in cls.values())]
        sets = result["per_class"]
        classes = next(iter(sets.values())) if sets else {}
        body = [[str(cls), name, str(sets[name][cls]["images"])]
                + [_number(sets[name][cls].get(m)) for m in columns] for cls in classes for name in sets]
        lines += [""] + _markdown(["class", "set", "n"] + [HEADINGS[m] for m in columns], body)
    return "\n".join(lines) + "\n"
