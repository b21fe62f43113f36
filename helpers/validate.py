"""Checks on the files songrec reads back: JSON against a schema, ``.npy`` by its header.

Every failure raises :class:`~helpers.errors.DataFormatError` with one line naming the
file, the field and what was expected; nothing is converted or allocated before its
check passed.

JSON schemas are small hand-written validators (:class:`Int`, :class:`Num`, :class:`Str`,
:class:`List`, :class:`Obj`, ...) rather than a JSON-Schema library: the two file formats
are tiny, the checks need numeric ranges that depend on the run (a vocabulary of ``V``
songs has ``V + 1`` counts), and the error text must name the field in songrec's terms.

``.npy`` files are opened with ``numpy.lib.format``: the magic string and the header
are read and the dtype, the shape and the file size checked against what the run's
vocabulary implies before a single value is loaded.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from helpers.errors import DataFormatError

INT64_MAX = 2**63 - 1
_SCALARS = (type(None), bool, int, float, str)
# Deeper than any file songrec writes (run.json nests 3 levels), far below Python's limit.
MAX_DEPTH = 16


class SchemaError(Exception):
    def __init__(self, where: str, expected: str, got: Any):
        self.where, self.expected, self.got = where, expected, got
        super().__init__(f"{where}: expected {expected}, got {_show(got)}")


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"a {'JSON object' if isinstance(value, dict) else 'list'} of {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Missing:
    def __repr__(self) -> str:
        return "missing"


_MISSING = _Missing()


class Spec:
    def check(self, value: Any, where: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class Int(Spec):
    lo: int = 0
    hi: int = INT64_MAX

    def check(self, value, where):
        if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi:
            raise SchemaError(where, f"an integer in {self.lo}..{self.hi}", value)


@dataclass
class Num(Spec):
    lo: float = -math.inf
    hi: float = math.inf
    open_lo: bool = False
    open_hi: bool = False
    allow_nan: bool = False

    def check(self, value, where):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and math.isnan(value):
            ok = self.allow_nan
        elif ok:
            ok = (value > self.lo if self.open_lo else value >= self.lo) and \
                 (value < self.hi if self.open_hi else value <= self.hi)
        if not ok:
            lo, hi = "(" if self.open_lo else "[", ")" if self.open_hi else "]"
            nan = " (or NaN)" if self.allow_nan else ""
            raise SchemaError(where, f"a number in {lo}{self.lo}, {self.hi}{hi}{nan}", value)


@dataclass
class Str(Spec):
    max_len: int = 1000
    choices: tuple = ()
    hex_len: int | None = None

    def check(self, value, where):
        if not isinstance(value, str):
            raise SchemaError(where, "a string", value)
        if self.choices and value not in self.choices:
            raise SchemaError(where, f"one of {list(self.choices)}", value)
        if self.hex_len is not None and (len(value) != self.hex_len or not all(c in "0123456789abcdef" for c in value)):
            raise SchemaError(where, f"{self.hex_len} lowercase hex digits", value)
        if len(value) > self.max_len:
            raise SchemaError(where, f"at most {self.max_len} characters", f"{len(value)} characters")


@dataclass
class Bool(Spec):
    def check(self, value, where):
        if not isinstance(value, bool):
            raise SchemaError(where, "true or false", value)


@dataclass
class List(Spec):
    item: Spec
    length: int | None = None
    max_len: int = 10**7

    def check(self, value, where):
        if not isinstance(value, list):
            raise SchemaError(where, "a list", value)
        if self.length is not None and len(value) != self.length:
            raise SchemaError(where, f"a list of exactly {self.length}", value)
        if len(value) > self.max_len:
            raise SchemaError(where, f"a list of at most {self.max_len}", value)
        if self._all_fine(value):
            return
        for i, v in enumerate(value):
            self.item.check(v, f"{where}[{i}]")

    def _all_fine(self, value: list) -> bool:
        """Fast path for long lists of plain ints or strings; False means look item by item."""
        item = self.item
        if type(item) is Int:
            return all(type(v) is int for v in value) and (not value or item.lo <= min(value) and max(value) <= item.hi)
        if type(item) is Str and not item.choices and item.hex_len is None:
            return all(type(v) is str for v in value) and max(map(len, value), default=0) <= item.max_len
        return False


@dataclass
class Plain(Spec):
    """Any JSON value nested at most ``depth`` levels (free-form settings, metrics)."""

    depth: int = 6

    def check(self, value, where):
        stack = [(value, where, 0)]
        while stack:
            v, w, d = stack.pop()
            if d > self.depth:
                raise SchemaError(w, f"at most {self.depth} levels of nesting", v)
            if isinstance(v, dict):
                stack += [(x, f"{w}.{k}", d + 1) for k, x in v.items()]
            elif isinstance(v, list):
                if not all(type(x) in _SCALARS for x in v):
                    stack += [(x, f"{w}[{i}]", d + 1) for i, x in enumerate(v)]
            elif not (v is None or isinstance(v, (bool, int, float, str))):
                raise SchemaError(w, "a JSON value", v)


@dataclass
class Obj(Spec):
    """A JSON object: ``required`` and ``optional`` fields; other keys must match ``extra``
    (None: no other keys allowed)."""

    required: dict = field(default_factory=dict)
    optional: dict = field(default_factory=dict)
    extra: Spec | None = None

    def check(self, value, where):
        if not isinstance(value, dict):
            raise SchemaError(where, "a JSON object", value)
        missing = [k for k in self.required if k not in value]
        if missing:
            raise SchemaError(f"{where}.{missing[0]}" if where else missing[0], "the field to be present", _MISSING)
        for key, v in value.items():
            spec = self.required.get(key) or self.optional.get(key) or self.extra
            name = f"{where}.{key}" if where else key
            if spec is None:
                raise SchemaError(name, f"only the fields {sorted({**self.required, **self.optional})}",
                                  "an unknown field")
            spec.check(v, name)


# --------------------------------------------------------------------------- reading


def read_json(path: str | os.PathLike, spec: Spec, *, max_bytes: int, what: str) -> Any:
    """Parse ``path`` (at most ``max_bytes``) and check it against ``spec``."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise DataFormatError(f"{path}: {size:,} bytes; expected a {what} of at most {max_bytes:,} bytes")
    raw = path.read_bytes()
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not valid UTF-8 at byte {exc.start}; expected a JSON {what}") from exc
    except RecursionError:
        raise DataFormatError(f"{path}: JSON nested too deeply; expected a {what}") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); expected a {what}") from exc
    try:
        Plain(MAX_DEPTH).check(value, "")
        spec.check(value, "")
    except SchemaError as exc:
        field_name = f"field {exc.where.lstrip('.')}" if exc.where else "top level"
        raise DataFormatError(f"{path}: {field_name} is {_show(exc.got)}; expected {exc.expected}") from None
    return value


_FLOATS = {np.dtype("<f4"), np.dtype("<f8")}


def read_npy_header(path: str | os.PathLike) -> tuple[tuple, np.dtype, bool, int]:
    """``(shape, dtype, fortran_order, data_offset)`` of a ``.npy`` file, data unread."""
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"format version {version[0]}.{version[1]}; expected 1.0 or 2.0")
        except (ValueError, EOFError, SyntaxError, TypeError) as exc:
            raise DataFormatError(f"{path} is not a plain .npy array: {exc}") from exc
        return shape, dtype, fortran, fh.tell()


def read_vectors(path: str | os.PathLike, rows: int, dim: int | None = None) -> np.ndarray:
    """Load a float ``(rows, dim)`` table from ``.npy`` after checking its header.

    ``dim`` None accepts any width >= 1. The file must be exactly header + data: a
    truncated file or trailing bytes are refused, and nothing beyond ``rows * dim``
    values is ever allocated.
    """
    path = Path(path)
    shape, dtype, fortran, offset = read_npy_header(path)
    if dtype.hasobject or dtype not in _FLOATS:
        raise DataFormatError(
            f"{path} is not a plain .npy array of floats: it holds {dtype} data; expected float32 "
            f"(songrec loads arrays with allow_pickle=False)")
    if len(shape) != 2 or shape[0] != rows or shape[1] < 1 or (dim is not None and shape[1] != dim):
        want = f"({rows}, {dim if dim is not None else 'dim'})"
        raise DataFormatError(f"{path} has shape {shape}; expected {want} for this run's vocabulary")
    count = shape[0] * shape[1]
    expected_size = offset + count * dtype.itemsize
    actual = path.stat().st_size
    if actual != expected_size:
        raise DataFormatError(
            f"{path} is {actual:,} bytes; expected {expected_size:,} for its header's shape {shape}: "
            f"the file is truncated or has extra bytes")
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = np.fromfile(fh, dtype=dtype, count=count)
    return data.reshape(shape, order="F" if fortran else "C")
