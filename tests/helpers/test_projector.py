"""Embedding Projector export: rows line up with song indices 1..V."""

import numpy as np
import pytest

from helpers.projector import clean_cell, export_projector


def read_lines(path):
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_single_column_has_no_header(tmp_path):
    vectors = np.array([[9, 9], [1.5, -2], [0.25, 3e-8], [4, 5]], dtype=np.float32)
    names = ["<pad>", "A by X", "B by Y", "C by Z"]
    vpath, mpath = export_projector(tmp_path / "proj", vectors, names)
    assert vpath.name == "vectors.tsv" and mpath.name == "metadata.tsv"
    vlines = read_lines(vpath)
    assert len(vlines) == 3  # V rows, padding left out
    assert vlines[0] == "1.5\t-2"
    parsed = np.array([[float(x) for x in line.split("\t")] for line in vlines])
    np.testing.assert_allclose(parsed, vectors[1:], rtol=1e-6)
    assert read_lines(mpath) == ["A by X", "B by Y", "C by Z"]


def test_extra_columns_add_header_and_line_up(tmp_path):
    v = 5
    vectors = np.arange((v + 1) * 3, dtype=np.float32).reshape(v + 1, 3)
    names = ["<pad>"] + [f"Song {i}" for i in range(1, v + 1)]
    genre = [None] + [i % 2 for i in range(1, v + 1)]
    tags = [frozenset()] + [frozenset({"rock", "80s"}) if i == 2 else frozenset() for i in range(1, v + 1)]
    _, mpath = export_projector(tmp_path, vectors, names, extra={"genre": genre, "tags": tags})
    meta = read_lines(mpath)
    assert meta[0] == "Name\tgenre\ttags"
    assert len(meta) == v + 1  # header + one row per song
    rows = [line.split("\t") for line in meta[1:]]
    assert all(len(r) == 3 for r in rows)
    assert [r[0] for r in rows] == names[1:]
    assert [r[1] for r in rows] == ["1", "0", "1", "0", "1"]
    assert rows[1][2] == "80s, rock"
    vlines = read_lines(tmp_path / "vectors.tsv")
    assert len(vlines) == v
    # row i of vectors.tsv is song index i + 1
    assert [float(line.split("\t")[0]) for line in vlines] == [3.0, 6.0, 9.0, 12.0, 15.0]


def test_subset_in_given_order(tmp_path):
    vectors = np.arange(12, dtype=np.float32).reshape(6, 2)  # row i = (2i, 2i+1)
    names = ["<pad>", "a", "b", "c", "d", "e"]
    vpath, mpath = export_projector(tmp_path, vectors, names, indices=[4, 2])
    assert read_lines(vpath) == ["8\t9", "4\t5"]
    assert read_lines(mpath) == ["d", "b"]
    with pytest.raises(ValueError, match="indices holds 0"):
        export_projector(tmp_path, vectors, names, indices=[0, 2])
    with pytest.raises(ValueError, match="repeat"):
        export_projector(tmp_path, vectors, names, indices=[2, 2])


def test_tabs_and_newlines_are_escaped(tmp_path):
    names = ["<pad>", "Tab\there", "Line\nbreak", "CR\r\nLF", ""]
    _, mpath = export_projector(tmp_path, np.ones((5, 2)), names)
    assert read_lines(mpath) == ["Tab here", "Line break", "CR LF", "(song 4)"]


def test_clean_cell():
    assert clean_cell(None) == ""
    assert clean_cell(float("nan")) == ""
    assert clean_cell(("b", "a")) == "b, a"
    assert clean_cell({"b", "a"}) == "a, b"
    assert clean_cell(3) == "3"


def test_export_validates(tmp_path):
    with pytest.raises(ValueError, match="length V\\+1 = 3"):
        export_projector(tmp_path, np.ones((3, 2)), ["<pad>", "a"])
    with pytest.raises(ValueError, match="extra\\['genre'\\] must have length V\\+1 = 3"):
        export_projector(tmp_path, np.ones((3, 2)), ["<pad>", "a", "b"], extra={"genre": [1, 2]})
    with pytest.raises(ValueError, match="finite"):
        export_projector(tmp_path, np.full((3, 2), np.nan), ["<pad>", "a", "b"])
    with pytest.raises(ValueError, match="unique"):
        export_projector(tmp_path, np.ones((3, 2)), ["<pad>", "a", "b"], extra={"Name": [0, 1, 2]})
