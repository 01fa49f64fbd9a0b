"""Plots of a run's ``metrics.jsonl``: what people would rather look at than read."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402

from augintae_tf.atomic import atomic_path  # noqa: E402
from augintae_tf.run.metrics_log import read_metrics  # noqa: E402


def plot_metrics(metrics_path: str | os.PathLike, out: str | os.PathLike,
                 keys: Sequence[str] | None = None, title: str | None = None) -> Path | None:
    """One panel per key (default: every ``*loss`` key) against epoch; None when nothing to plot."""
    records = [r for r in read_metrics(metrics_path, warn=None) if "epoch" in r]
    if keys is None:
        keys = sorted({k for r in records for k in r if k.endswith("loss")})
    keys = [k for k in keys if any(k in r for r in records)]
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        points = [(r["epoch"], r[key]) for r in records if key in r]
        ax.plot(*zip(*points), marker="o", markersize=3)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    try:
        with atomic_path(out, what="a plot") as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return out
