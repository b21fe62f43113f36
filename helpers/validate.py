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
import numbers
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
    """A value in a file does not match its schema: ``where`` (the field), ``expected``, ``got``."""

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
    """What a JSON value must be; ``check(value, where)`` raises :class:`SchemaError`."""

    def check(self, value: Any, where: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class Int(Spec):
    """An integer (not a bool) in ``lo..hi``."""

    lo: int = 0
    hi: int = INT64_MAX

    def check(self, value, where):
        if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi:
            raise SchemaError(where, f"an integer in {self.lo}..{self.hi}", value)


@dataclass
class Num(Spec):
    """A number in the range ``lo``..``hi`` (``open_*``: bound excluded; NaN only with ``allow_nan``)."""

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
    """A string of at most ``max_len`` characters, one of ``choices`` when given, ``hex_len`` hex digits when given."""

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
    """``true`` or ``false``."""

    def check(self, value, where):
        if not isinstance(value, bool):
            raise SchemaError(where, "true or false", value)


@dataclass
class List(Spec):
    """A list of ``item`` values: exactly ``length`` of them when given, at most ``max_len``."""

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


# --------------------------------------------------------------------------- arguments
# Checks of the arguments a helpers function is called with. One rule for all of them:
# a bad argument raises ValueError whose message reads "<name> must be <expected>, got
# <value!r>", so the caller sees which argument, what it should be and what it was.


def bad_argument(name: str, expected: str, value: Any) -> ValueError:
    """The ValueError of the rule above (returned, for the caller to raise)."""
    return ValueError(f"{name} must be {expected}, got {value!r}")


class Described:
    """A description standing in for a value in a message: its repr is the text itself
    (``got dtype float64 shape (3,)`` rather than a quoted string)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers, False for bools (a True vocabulary size is a mistake)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _bound_text(noun: str, low, high, low_open: bool = False, high_open: bool = False) -> str:
    """``noun`` with its one bound, if any: "an int >= 1", "a finite number > 0"."""
    def show(x):
        return f"{x:g}" if isinstance(x, float) else str(x)

    if low is not None:
        return f"{noun} {'>' if low_open else '>='} {show(low)}"
    if high is not None:
        return f"{noun} {'<' if high_open else '<='} {show(high)}"
    return noun


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None, *,
              allow_none: bool = False) -> int | None:
    """``value`` as a Python int, or ``None`` when ``allow_none`` and it is ``None``.

    ``low``/``high``: inclusive bounds (``None``: unbounded). Raises ValueError otherwise.
    """
    if value is None and allow_none:
        return None
    if not is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        expected = f"an int in {low}..{high}" if low is not None and high is not None \
            else _bound_text("an int", low, high)
        raise bad_argument(name, ("None or " if allow_none else "") + expected, value)
    return int(value)


def check_real(name: str, value: Any, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite Python float within the bounds (``None``: unbounded; ``*_open``:
    the bound itself is excluded). Raises ValueError otherwise."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        expected = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}" \
            if low is not None and high is not None else _bound_text("a finite number", low, high, low_open, high_open)
        raise bad_argument(name, expected, value)
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a Python bool (NumPy bools accepted); anything else raises ValueError."""
    if not isinstance(value, (bool, np.bool_)):
        raise bad_argument(name, "True or False", value)
    return bool(value)


def check_choice(name: str, value: Any, choices: tuple) -> Any:
    """``value`` if it is one of ``choices``; ValueError otherwise."""
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        raise bad_argument(name, f"one of {', '.join(repr(c) for c in choices)}", value)
    return value


def check_vocab_size(value: Any, low: int = 1, name: str = "vocab_size") -> int:
    """``V``, the number of songs: an int >= ``low``."""
    return check_int(name, value, low)


def check_encoded(name: str, encoded: Any, vocab_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Check encoded playlists and lay them end to end.

    ``encoded``: a list (or other sequence) of 1-D integer arrays, one per playlist, of
    song indices ``1..vocab_size`` (``vocab_size`` None: any index >= 1); ``0`` is the
    padding row and never a song. Returns ``(flat int32 (N,), lengths int64
    (n_playlists,))``. Raises ValueError naming the playlist, position and value at fault.
    """
    if isinstance(encoded, np.ndarray) and encoded.dtype != object:
        raise bad_argument(name, "a list of 1-D integer arrays, one per playlist (wrap one playlist as "
                                 "[playlist])", Described(f"one array of shape {encoded.shape}"))
    if isinstance(encoded, (str, bytes, dict)) or not hasattr(encoded, "__len__"):
        raise bad_argument(name, "a list of 1-D integer arrays, one per playlist",
                           Described(f"a {type(encoded).__name__}"))
    arrays = []
    for i, playlist in enumerate(encoded):
        a = np.asarray(playlist)
        if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
            raise bad_argument(f"{name}[{i}]", "a 1-D array of integer song indices",
                               Described(f"dtype {a.dtype} shape {a.shape}"))
        arrays.append(a)
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int32), lengths
    flat = np.concatenate([a for a in arrays if a.size]).astype(np.int64, copy=False)
    hi = np.iinfo(np.int32).max - 1 if vocab_size is None else vocab_size
    bad = (flat < 1) | (flat > hi)
    if bad.any():
        from helpers.windows import locate

        first = int(np.flatnonzero(bad)[0])
        playlist, position = locate(first, lengths)
        expected = ("song indices >= 1 (0 is padding)" if vocab_size is None
                    else f"song indices in 1..vocab_size={vocab_size} (0 is padding)")
        raise bad_argument(f"{name}[{playlist}]", expected,
                           Described(f"{int(flat[first])} at position {position}"))
    return flat.astype(np.int32), lengths
