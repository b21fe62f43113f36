"""Files for the Embedding Projector (projector.tensorflow.org or TensorBoard).

The Projector reads two tab-separated files whose rows must line up: ``vectors.tsv``
(one vector per line) and ``metadata.tsv`` (one label row per vector).  With a single
metadata column the file has no header; with several, the first line names the columns.
See docs/PROJECTOR.md for how to load them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["export_projector", "clean_cell"]


def clean_cell(value: Any) -> str:
    """One metadata cell as text without tabs or line breaks (they would shift columns).

    Sets and tuples (e.g. tags) become a sorted comma-separated list; None/NaN become "".
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        text = ""
    elif isinstance(value, (set, frozenset)):
        text = ", ".join(sorted(str(v) for v in value))
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    for ch in ("\r\n", "\t", "\n", "\r"):
        text = text.replace(ch, " ")
    return text


def export_projector(
    out_dir: str | Path,
    vectors: np.ndarray,
    names: Sequence[str],
    extra: Mapping[str, Sequence[Any]] | None = None,
    indices: Sequence[int] | np.ndarray | None = None,
) -> tuple[Path, Path]:
    """Write ``vectors.tsv`` and ``metadata.tsv`` for songs 1..V (or a chosen subset).

    ``out_dir``: folder to write to (created if missing; existing files are replaced);
    ``vectors``: float (V+1, d), row 0 (padding) is left out, so line ``i`` of each file
    (counting from 1) is song index ``i``; ``names``: length V+1 (``Vocab.names``), entry
    0 ignored; ``extra``: optional further columns, name -> sequence of length V+1 indexed
    like ``names`` (e.g. ``{"artist": ..., "tags": ...}``); ``indices``: optional song
    indices (1..V, no repeats) to write, in this order, instead of all songs (line ``j`` of
    both files is then song ``indices[j - 1]``), to keep the browser responsive on the
    full catalogue (e.g. the most played songs).

    Returns ``(vectors_path, metadata_path)``.  Floats are written with 7 significant
    digits (float32 precision).  Tabs and line breaks inside text become spaces; a blank
    name becomes ``"(song i)"`` so no metadata line is empty.
    """
    vec = np.asarray(vectors, dtype=np.float64)
    if vec.ndim != 2 or vec.shape[0] < 2 or vec.shape[1] < 1:
        raise ValueError(f"vectors must have shape (V+1, d) with V >= 1, got {vec.shape}")
    if not np.isfinite(vec).all():
        raise ValueError("vectors must be finite; found NaN or infinity")
    v = vec.shape[0] - 1
    if isinstance(names, (str, bytes)) or len(names) != v + 1:
        raise ValueError(
            f"names must be a sequence of length V+1 = {v + 1} (index 0 is padding), "
            f"got {len(names) if not isinstance(names, (str, bytes)) else type(names).__name__}"
        )
    columns: list[tuple[str, Sequence[Any]]] = [("Name", names)]
    for col, values in (extra or {}).items():
        if not isinstance(col, str) or not col:
            raise ValueError(f"extra column names must be non-empty strings, got {col!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
            raise ValueError(f"extra[{col!r}] must be a sequence of length V+1, got {type(values).__name__}")
        if len(values) != v + 1:
            raise ValueError(
                f"extra[{col!r}] must have length V+1 = {v + 1} like names, got {len(values)}"
            )
        columns.append((clean_cell(col), values))
    heads = [c for c, _ in columns]
    if len(set(heads)) != len(heads):
        raise ValueError(f"metadata column names must be unique, got {heads}")

    if indices is None:
        rows = np.arange(1, v + 1)
    else:
        rows = np.asarray(indices)
        if rows.ndim != 1 or rows.size == 0 or not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(
                f"indices must be a non-empty 1-D array of song indices, got {rows.dtype} {rows.shape}"
            )
        if rows.min() < 1 or rows.max() > v:
            bad = rows[(rows < 1) | (rows > v)][0]
            raise ValueError(f"indices holds {bad}; song indices are 1..{v} (0 is padding)")
        if np.unique(rows).size != rows.size:
            raise ValueError("indices must not repeat a song")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vectors_path = out / "vectors.tsv"
    metadata_path = out / "metadata.tsv"
    np.savetxt(vectors_path, vec[rows], fmt="%.7g", delimiter="\t", newline="\n")
    lines: list[str] = []
    if len(columns) > 1:
        lines.append("\t".join(heads))
    for i in rows.tolist():
        cells = [clean_cell(values[i]) for _, values in columns]
        # The Projector may drop blank lines, which would shift every later row.
        cells[0] = cells[0].strip() or f"(song {i})"
        lines.append("\t".join(cells))
    metadata_path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return vectors_path, metadata_path

