"""``songrec train``'s training flags, made from :class:`helpers.sgns.SGNSConfig`'s fields.

Each field gets one flag (``--field-name``, or its ``flag`` metadata: ``--lr``,
``--max-pairs``, ``--shared-table/--separate-tables``) whose ``--help`` is the field's
doc, with the field's choices; a bool gets a flag to turn it on and one to turn it off.
A flag not given takes the value of the chosen loop's preset (:data:`helpers.sgns.PRESETS`,
named by its :data:`helpers.sgns.LOOPS` entry); :func:`config_from_args` builds the config.
"""

from __future__ import annotations

import argparse
import dataclasses

# The names --loop had before (as --method); accepted with a notice.
OLD_LOOP_NAMES = {"reference": "fast", "assignment": "keras"}


# `--reduce-lr-patience none`: set to None, unlike a flag not given (None: the preset's value).
_NONE = "none"


def _int_or_none(text: str) -> int | str:
    return _NONE if text.strip().lower() == _NONE else int(text)


_FLAG_TYPES = {"int": int, "float": float, "str": str, "int | None": _int_or_none}


def flag_fields() -> dict[str, str]:
    """``songrec train``'s flag of every SGNSConfig field but ``loop``: ``{flag: field name}``
    (a bool's flags as ``"--on/--off"``), from the field's ``flag`` metadata or its name."""
    from helpers.sgns import SGNSConfig

    out = {}
    for f in dataclasses.fields(SGNSConfig):
        flag = f.metadata["flag"] or "--" + f.name.replace("_", "-")
        if f.type == "bool" and isinstance(flag, str):
            flag = (flag, "--no-" + flag[2:])
        out["/".join(flag) if isinstance(flag, tuple) else flag] = f.name
    out.pop("--loop")
    return out


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per SGNSConfig field, its help the field's doc (helpers.sgns); each defaults to
    the chosen loop's preset, except --seed, which also seeds the split and the synthetic data."""
    from helpers.sgns import LOOPS, SGNSConfig

    fields = {f.name: f for f in dataclasses.fields(SGNSConfig)}
    loops = "; ".join(f"{name}: {loop.description} (starts from PRESETS[{loop.preset!r}])"
                      for name, loop in LOOPS.items())
    p.add_argument("--loop", choices=[*LOOPS, *OLD_LOOP_NAMES], default=None,
                   help=f"{fields['loop'].metadata['doc']} (default: fast); {loops}; see helpers.sgns")
    p.add_argument("--method", choices=[*LOOPS, *OLD_LOOP_NAMES], default=None, help=argparse.SUPPRESS)
    for flag, name in flag_fields().items():
        f = fields[name]
        doc, choices = f.metadata["doc"], f.metadata["choices"]
        if f.type == "bool":
            on, off = flag.split("/")
            both = p.add_mutually_exclusive_group()
            both.add_argument(on, dest=name, action="store_true", default=None, help=doc)
            both.add_argument(off, dest=name, action="store_false", default=None, help=f"the opposite of {on}")
        else:
            p.add_argument(flag, dest=name, type=_FLAG_TYPES[f.type], choices=choices,
                           default=f.default if name == "seed" else None, help=doc)


def config_from_args(args):
    """The chosen loop's preset (helpers.sgns.PRESETS) with the flags that were given."""
    from helpers.sgns import LOOPS, PRESETS, honours, loop_named

    loop = args.loop
    preset = PRESETS[loop_named(loop, "--loop").preset]
    given = {}
    for flag, name in flag_fields().items():
        value = getattr(args, name)
        if value is None:
            continue
        if not honours(loop, name):
            raise ValueError(f"{flag} applies to --loop {', '.join(k for k in LOOPS if honours(k, name))} "
                             f"only (the {loop} loop cannot honour it)")
        # --max-pairs 0 has always meant no cap.
        given[name] = None if value is _NONE or (name == "max_pairs_per_playlist" and value == 0) else value
    return dataclasses.replace(preset, **given)
