"""Run records: JSONL metrics, a summary, and plots of the curves.

``<workdir>/metrics.jsonl`` holds one JSON object per line: ``{"split": "train"|"eval", "step": s,
"time": seconds since start, <metric>: value, ...}``. Only process 0 writes.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Iterable, Mapping

import jax
import numpy as np

METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


def _plain(value: Any) -> Any:
    value = np.asarray(value)
    if value.ndim == 0:
        v = value.item()
        return v if not isinstance(v, float) or math.isfinite(v) else str(v)
    return value.tolist()


class MetricsWriter:
    """Append metric records to ``<workdir>/metrics.jsonl`` (no-op without a workdir or off process 0)."""

    def __init__(self, workdir: str | os.PathLike | None):
        self.path = None
        if workdir is not None and jax.process_index() == 0:
            os.makedirs(workdir, exist_ok=True)
            self.path = os.path.join(os.fspath(workdir), METRICS_FILE)

    def write(self, split: str, step: int, metrics: Mapping[str, Any], **extra: Any) -> dict:
        record = {"split": split, "step": int(step), **extra, **{k: _plain(v) for k, v in metrics.items()}}
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")
        return record


def read_metrics(workdir: str | os.PathLike, split: str | None = None) -> list[dict]:
    """The records of ``<workdir>/metrics.jsonl`` (of one split if given), in order."""
    path = os.path.join(os.fspath(workdir), METRICS_FILE)
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if split is None or r["split"] == split]


def write_summary(workdir: str | os.PathLike | None, summary: Mapping[str, Any]) -> None:
    if workdir is not None and jax.process_index() == 0:
        with open(os.path.join(os.fspath(workdir), SUMMARY_FILE), "w") as f:
            json.dump(summary, f, indent=2, default=_plain)


def format_metrics(metrics: Mapping[str, Any], keys: Iterable[str] | None = None) -> str:
    """``loss=0.0123 acc=0.98`` for the scalar entries of ``metrics``."""
    keys = list(metrics) if keys is None else [k for k in keys if k in metrics]
    parts = []
    for k in keys:
        v = _plain(metrics[k]) if isinstance(metrics[k], (np.ndarray, np.generic, jax.Array)) else metrics[k]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            parts.append(f"{k}={v:.4g}")
    return " ".join(parts)


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (unless one is already chosen): for
    plots written to files from scripts, tests and notebooks alike."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> str:
    """Lay out, write and close ``fig``; returns ``path`` as a string."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return os.fspath(path)


def plot_metrics(workdir: str | os.PathLike, filename: str = "metrics.png") -> str | None:
    """Plot every numeric metric of the run against the step (train and eval), one panel each."""
    try:
        records = read_metrics(workdir)
    except FileNotFoundError:
        return None
    skip = {"split", "step", "time"}
    names = sorted({k for r in records for k, v in r.items() if k not in skip and isinstance(v, (int, float))})
    if not names:
        return None
    plt = pyplot()
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for split, style in (("train", "-"), ("eval", "o-")):
            pts = [(r["step"], r[name]) for r in records if r["split"] == split and isinstance(r.get(name), (int, float))]
            if pts:
                ax.plot(*zip(*pts), style, label=split, markersize=3)
        ax.set_title(name)
        ax.set_xlabel("step")
        if all(r[name] > 0 for r in records if isinstance(r.get(name), (int, float))):
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    return save_figure(fig, os.path.join(os.fspath(workdir), filename))
