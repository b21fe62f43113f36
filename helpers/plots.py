"""Figures for training curves, embedding maps and method comparisons.

Every function builds a ``matplotlib.figure.Figure`` directly (no pyplot state), so it
works under any backend, including headless ``Agg`` in CI; Jupyter shows a returned
Figure as an image.  Pass ``path=`` to also save a PNG (parent folders are created).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "plot_history",
    "project_2d",
    "dominant_labels",
    "plot_embedding_map",
    "plot_method_comparison",
]

_LR_KEYS = ("lr", "learning_rate")
_OTHER = "other"


def _save(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=fig.dpi, bbox_inches="tight")
    return fig


def plot_history(
    history: Mapping[str, Sequence[float]] | Any,
    *,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Training curves per epoch.

    ``history`` is a Keras ``History.history`` dict (or an object with a ``history``
    attribute holding one).  It must contain ``"loss"``; ``"val_loss"`` is drawn on the
    same axes.  ``"accuracy"``/``"val_accuracy"`` (or any ``*accuracy`` key) go to a
    second panel; ``"lr"`` or ``"learning_rate"`` to a log-scale secondary y axis of the
    loss panel.  Each line's label is its history key.
    """
    hist = getattr(history, "history", history)
    if not isinstance(hist, Mapping):
        raise ValueError(
            f"history must be a dict of metric lists (Keras History.history), "
            f"got {type(history).__name__}"
        )
    if "loss" not in hist:
        raise ValueError(f"history needs a 'loss' entry; it has keys {sorted(hist)}")
    series = {k: np.asarray(v, dtype=float).ravel() for k, v in hist.items()}
    n = series["loss"].size
    if n == 0:
        raise ValueError("history['loss'] is empty; train for at least one epoch")
    for key, val in series.items():
        if val.size != n:
            raise ValueError(
                f"history[{key!r}] has {val.size} values but history['loss'] has {n}"
            )
    acc_keys = [k for k in ("accuracy", "val_accuracy") if k in series]
    acc_keys += sorted(
        k for k in series if k.endswith("accuracy") and k not in acc_keys
    )
    lr_key = next((k for k in _LR_KEYS if k in series), None)
    epochs = np.arange(1, n + 1)

    fig = Figure(figsize=(10 if acc_keys else 6, 4), layout="constrained")
    axes = fig.subplots(1, 2 if acc_keys else 1, squeeze=False)[0]
    ax = axes[0]
    for key, style in (("loss", "-o"), ("val_loss", "--s")):
        if key in series:
            ax.plot(epochs, series[key], style, label=key, markersize=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if lr_key is not None:
        ax_lr = ax.twinx()
        ax_lr.plot(epochs, series[lr_key], ":", color="grey", label=lr_key)
        if np.all(series[lr_key] > 0):
            ax_lr.set_yscale("log")
        ax_lr.set_ylabel("learning rate")
        h2, l2 = ax_lr.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="best")
    ax.set_title("loss")
    if acc_keys:
        ax2 = axes[1]
        for key in acc_keys:
            ax2.plot(epochs, series[key], "--s" if key.startswith("val_") else "-o",
                     label=key, markersize=3)
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("accuracy")
        ax2.set_title("accuracy")
        ax2.legend(loc="best")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project float (N, d) vectors to float64 (N, 2).

    ``"pca"``: the first two principal components (NumPy SVD of the centred data; each
    component's sign is fixed so that its largest loading is positive, making the picture
    reproducible).  ``"tsne"``: scikit-learn's t-SNE (optional dependency), seeded.
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"vectors must have shape (N, d) with N >= 2, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("vectors must be finite; found NaN or infinity")
    if method == "pca":
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        comps = vt[:2]
        big = np.argmax(np.abs(comps), axis=1)
        comps = comps * np.sign(comps[np.arange(comps.shape[0]), big])[:, None]
        out = centred @ comps.T
        if out.shape[1] < 2:  # one-dimensional vectors: nothing to show on the 2nd axis
            out = np.hstack([out, np.zeros((out.shape[0], 2 - out.shape[1]))])
        return out
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError as exc:
            raise ImportError(
                "method='tsne' needs scikit-learn, which is not installed; "
                "run `pip install scikit-learn` or use method='pca'"
            ) from exc
        perplexity = float(min(30.0, max(1.0, (x.shape[0] - 1) / 3)))
        tsne = TSNE(n_components=2, random_state=seed, init="pca", perplexity=perplexity)
        return np.asarray(tsne.fit_transform(x), dtype=np.float64)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")


def dominant_labels(
    labels_per_idx: Sequence[Iterable | None], n_labels: int = 8
) -> list[str | None]:
    """One colour label per song from label sets (e.g. Last.fm tags).

    Keeps the ``n_labels`` labels carried by most songs; each song gets the most common
    of those it carries, ``"other"`` when it carries labels but none of them, and ``None``
    when it has none.  Returns a list of the same length (index 0 stays None).
    """
    sets = [frozenset() if s is None else frozenset(s) for s in labels_per_idx]
    freq = Counter(lab for i, s in enumerate(sets) if i > 0 for lab in s)
    top = [lab for lab, _ in sorted(freq.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    rank = {lab: r for r, lab in enumerate(top[:n_labels])}
    out: list[str | None] = [None]
    for s in sets[1:]:
        if not s:
            out.append(None)
            continue
        kept = [lab for lab in s if lab in rank]
        out.append(str(min(kept, key=rank.__getitem__)) if kept else _OTHER)
    return out


def _is_missing(lab: Any) -> bool:
    return lab is None or (isinstance(lab, float) and np.isnan(lab))


def plot_embedding_map(
    vectors: np.ndarray,
    labels: Sequence[Any],
    *,
    names: Sequence[str] | None = None,
    highlight: Iterable[int] = (),
    method: str = "pca",
    max_points: int = 3000,
    max_labels: int = 10,
    seed: int = 0,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """2-D map of song vectors coloured by label, with a few songs named.

    ``vectors``: float (V+1, d), row 0 (padding) is never drawn; ``labels``: length V+1,
    one label per index (genre, a tag, ...), None/NaN = unlabelled; ``names``: length V+1
    (``Vocab.names``), used to annotate ``highlight``; ``highlight``: song indices to
    annotate (always drawn even when subsampling); ``method``: ``"pca"`` or ``"tsne"``
    (see :func:`project_2d`); ``max_points``: songs drawn at most, a seeded random subset
    (the projection is fitted on the drawn songs only, which keeps t-SNE affordable);
    ``max_labels``: labels coloured individually (most frequent first), the rest and
    unlabelled songs grey ("other" / "unlabelled").

    The axes hold one scatter collection per colour group (groups ordered by size, then
    "other" and "unlabelled"), one more collection of black rings when ``highlight`` is
    non-empty, and one text annotation per highlighted song.
    """
    vec = np.asarray(vectors)
    if vec.ndim != 2 or vec.shape[0] < 3:
        raise ValueError(f"vectors must have shape (V+1, d) with V >= 2, got {vec.shape}")
    v = vec.shape[0] - 1
    if len(labels) != v + 1:
        raise ValueError(f"labels must have length V+1 = {v + 1}, got {len(labels)}")
    if names is not None and len(names) != v + 1:
        raise ValueError(f"names must have length V+1 = {v + 1}, got {len(names)}")
    hl = np.asarray(list(highlight), dtype=np.int64)
    if hl.size and (hl.min() < 1 or hl.max() > v):
        bad = hl[(hl < 1) | (hl > v)][0]
        raise ValueError(f"highlight holds index {bad}; song indices are 1..{v}")
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")

    idx = np.arange(1, v + 1)
    if idx.size > max_points:
        rng = np.random.default_rng(seed)
        rest = np.setdiff1d(idx, hl)
        n_rest = max(0, max_points - np.unique(hl).size)
        idx = np.union1d(hl, rng.choice(rest, size=min(n_rest, rest.size), replace=False))
    xy = project_2d(vec[idx], method=method, seed=seed)

    lab = ["unlabelled" if _is_missing(labels[i]) else str(labels[i]) for i in idx]
    freq = Counter(x for x in lab if x not in ("unlabelled", _OTHER))
    keep = [x for x, _ in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))][:max_labels]
    keep_set = set(keep)
    lab = [x if x in keep_set or x == "unlabelled" else _OTHER for x in lab]
    lab_arr = np.array(lab, dtype=object)

    fig = Figure(figsize=(8, 7), layout="constrained")
    ax = fig.add_subplot()
    palette = [f"C{i}" for i in range(10)]
    groups = keep + [g for g in (_OTHER, "unlabelled") if g in set(lab)]
    grey = {_OTHER: "darkgrey", "unlabelled": "gainsboro"}
    for gi, group in enumerate(groups):
        mask = lab_arr == group
        ax.scatter(
            xy[mask, 0], xy[mask, 1], s=5 if group in grey else 8,
            c=grey.get(group, palette[gi % len(palette)]),
            alpha=0.5 if group in grey else 0.8, label=f"{group} ({int(mask.sum())})",
            linewidths=0,
        )
    pos = {int(i): r for r, i in enumerate(idx)}
    shown = list(dict.fromkeys(int(h) for h in hl))
    if shown:
        rows = [pos[i] for i in shown]
        # Rings make the named songs findable among thousands of dots.
        ax.scatter(xy[rows, 0], xy[rows, 1], s=60, facecolors="none", edgecolors="black",
                   linewidths=1.0, label="_highlighted")
    for i in shown:
        text = names[i] if names is not None else str(i)
        ax.annotate(
            text, xy[pos[i]], xytext=(10, 10), textcoords="offset points", fontsize=8,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.8, "linewidth": 0},
            arrowprops={"arrowstyle": "-", "color": "black", "lw": 0.5},
        )
    ax.set_xlabel(f"{method.upper()} 1")
    ax.set_ylabel(f"{method.upper()} 2")
    ax.legend(loc="best", fontsize=8, markerscale=2, title="label (songs)")
    ax.set_title(title or f"Song embeddings ({method.upper()}, {idx.size} of {v} songs)")
    return _save(fig, path)


def plot_method_comparison(
    table: pd.DataFrame,
    metric: str = "HR@10",
    *,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Bar chart of one metric per method, in the table's row order, values printed.

    ``table`` is what ``helpers.evaluate.evaluate_methods`` returns (a ``method`` column
    and the metric column).
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    for col in ("method", metric):
        if col not in table.columns:
            raise ValueError(f"table has no column {col!r}; columns are {list(table.columns)}")
    if table.empty:
        raise ValueError("table is empty; nothing to plot")
    values = table[metric].to_numpy(dtype=float)
    methods = table["method"].astype(str).tolist()
    fig = Figure(figsize=(max(4.0, 1.1 * len(methods) + 1), 4), layout="constrained")
    ax = fig.add_subplot()
    bars = ax.bar(range(len(methods)), values, color=[f"C{i % 10}" for i in range(len(methods))])
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} by method")
    ax.margins(y=0.15)
    return _save(fig, path)
