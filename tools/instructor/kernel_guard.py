"""Runs inside a notebook's kernel while it is autograded: the state test cells rely on,
recorded before the notebook's first cell and put back before every test cell.

:mod:`tools.instructor.preprocessors.guarded_execute` sends this file's text to the kernel
as a private module (``MODULE_NAME`` in ``sys.modules``), so the kernel needs nothing from
``tools/``. It uses the standard library only (NumPy's error state when NumPy is loaded).

:func:`snapshot` (before any cell) imports the modules the notebook's test cells import and
records: Python's builtins; the module dicts of those modules, of the modules and classes
the tests reach through them (attribute chains such as ``numpy.testing.assert_allclose``)
and of those classes' bases; their ``sys.modules`` entries; IPython's input transformers
(cleanup, line, token and post), AST transformers, event callbacks, custom exception
handler, the shell's and kernel's methods and message handlers, ``sys`` hooks (display,
except, trace, profile, stdout/stderr, import finders) and NumPy's floating-point error
handling. It also installs an audit hook (PEP 578; it cannot be removed) that refuses to
open notebook files and the gradebook, where hidden tests are stored, and notes the
programs notebook code starts.

:func:`restore` (before every test cell, and from :mod:`helpers.testkit` after each call
of a student's function) puts every recorded value back and returns what it had to undo,
one sentence each, for the tamper report. It only changes what differs from the record,
so an honest notebook reports nothing.

:func:`next_notebook` (between two notebooks of one student graded in the same kernel)
restores, then empties the namespace and puts back the working folder, environment
variables and ``sys.path`` of the snapshot, so the next notebook starts as in a new
kernel that has already imported its modules.

What it cannot do: code in the same process can always reach the guard itself (and does
not need to: it can be read in this file). A submission written to defeat the guard by
name is not stopped here; the tamper report's scan of the submitted cells (names of
IPython internals, of ``sys``'s hooks, of this module) is what shows it to the instructor.
"""

from __future__ import annotations

import builtins
import gc
import importlib
import json
import os
import sys
import threading
import types

MODULE_NAME = "_songrec_kernel_guard"
# Builtins that IPython and the kernel set themselves: the output history, and ``input``,
# which the kernel points at the current request's stdin channel.
IGNORED_BUILTINS = frozenset({"_", "__", "___", "input", "raw_input"})
# Audit events that start another program (recorded, not refused).
PROGRAM_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn")
IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: a C type whose dict cannot change
# Recorded whatever the test cells import: what tests commonly lean on.
ALWAYS = ("numpy", "numpy.testing", "collections", "math", "operator", "warnings")

_state: dict = {}


def _name_of(obj) -> str:
    """A short, address-free description of ``obj`` for the report."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(name, str):
        name = type(obj).__qualname__ + " object"
    module = getattr(obj, "__module__", None)
    if isinstance(module, str) and module not in ("builtins", "__main__"):
        return f"{module}.{name}"
    return name


def _is_code(value) -> bool:
    """Functions, methods, classes, modules and descriptors: what monkeypatching replaces."""
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
                              types.ModuleType, staticmethod, classmethod, property,
                              types.MethodDescriptorType, types.WrapperDescriptorType,
                              types.MethodWrapperType, types.GetSetDescriptorType,
                              types.MemberDescriptorType)) or callable(value)


def _cell_files() -> set:
    shell = _shell()
    return set(getattr(getattr(shell, "compile", None), "_filename_map", None) or ())


def _from_notebook(value) -> bool:
    """True for code written in a notebook cell: a function, class or callable object
    defined there, or a method or ``functools.partial`` wrapping one."""
    target = getattr(value, "__func__", value)
    target = getattr(target, "func", target)
    if not isinstance(target, (types.FunctionType, type)):
        if getattr(type(target), "__module__", None) == "__main__":
            return True
    if getattr(target, "__module__", None) == "__main__":
        return True
    return isinstance(target, types.FunctionType) and target.__code__.co_filename in _cell_files()


def _same(a, b) -> bool:
    """Identity, except for bound methods, which Python makes anew at each access."""
    return a is b or (isinstance(a, types.MethodType) and a == b)


def _mutable_class(cls) -> bool:
    return isinstance(cls, type) and cls is not object and not (cls.__flags__ & IMMUTABLE_TYPE)


# --------------------------------------------------------------------------- the record


def _resolve(chain: str):
    """Objects along a dotted ``chain`` (``numpy.testing.assert_allclose``): the longest
    importable module prefix, then attributes. Stops quietly where a name is missing."""
    parts = chain.split(".")
    found, obj = [], None
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        try:
            obj = importlib.import_module(name)
        except Exception:  # not a module (an attribute), or not importable: try shorter
            continue
        found.append(obj)
        for attr in parts[i:]:
            try:
                obj = getattr(obj, attr)
            except Exception:
                break
            found.append(obj)
        break
    return found


def _record_class(cls, classes: dict) -> None:
    for base in getattr(cls, "__mro__", ()):
        if _mutable_class(base) and id(base) not in classes:
            classes[id(base)] = (base, dict(base.__dict__))


def _record_module(module, modules: dict, classes: dict) -> None:
    if id(module) in modules:
        return
    modules[id(module)] = (module, dict(module.__dict__))
    for value in list(module.__dict__.values()):
        if isinstance(value, type) and getattr(value, "__module__", "").split(".")[0] == \
                module.__name__.split(".")[0]:
            _record_class(value, classes)


def _shell():
    try:
        return get_ipython()  # noqa: F821 (an IPython builtin)
    except NameError:
        return None


def _shell_lists(shell) -> dict:
    """Every list of IPython that changes how a cell's text becomes code, or what runs around it."""
    out = {}
    if shell is None:
        return out
    manager = shell.input_transformer_manager
    for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
        out[f"input transformer ({name})"] = getattr(manager, name)
    out["input transformer (input_transformers_post)"] = shell.input_transformers_post
    out["AST transformer"] = shell.ast_transformers
    for event, callbacks in shell.events.callbacks.items():
        out[f"'{event}' event callback"] = callbacks
    return out


def _shell_objects(shell) -> dict:
    """The single objects IPython and the kernel route a cell and its errors through."""
    out = {"sys.displayhook": (sys, "displayhook"), "sys.excepthook": (sys, "excepthook"),
           "sys.stdout": (sys, "stdout"), "sys.stderr": (sys, "stderr")}
    if shell is not None:
        for attr in ("input_transformer_manager", "display_formatter", "displayhook", "compile",
                     "custom_exceptions", "CustomTB", "events", "builtin_trap", "display_trap"):
            out[f"IPython shell.{attr}"] = (shell, attr)
        kernel = getattr(shell, "kernel", None)
        if kernel is not None:
            out["kernel.shell_handlers"] = (kernel, "shell_handlers")
            out["kernel.session"] = (kernel, "session")
    return {label: (owner, attr, getattr(owner, attr, None)) for label, (owner, attr) in out.items()}


def snapshot(modules, chains, blocked_files, nonce: str) -> str:
    """Record the state to restore before each test cell; install the audit hook.

    ``modules``: names of the modules the test cells import (``helpers`` first, so its
    TensorFlow hook is in place before anything imports TensorFlow). ``chains``: dotted
    names the test cells reach through them. ``blocked_files``: file-name endings notebook
    code may not open (notebooks, the gradebook). ``nonce``: echoed back.
    Returns JSON: ``{"nonce", "failed": [modules that did not import]}``.
    """
    failed = []
    # Importing TensorFlow and Keras allocates about half a million objects and almost no
    # garbage (some 4,000 unreachable objects): with the collector paused meanwhile the
    # imports take about a fifth less CPU (2.3 s against 3.0 s here), and the few cycles
    # they leave are frozen with everything else below.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # the tests will fail on it themselves, visibly
                failed.append(f"{name}: {type(exc).__name__}")
    finally:
        if collecting:
            gc.enable()
    mods, classes = {}, {}
    # Everything is imported before anything is recorded: importing a submodule adds it to
    # its package's dict.
    found = [obj for name in (*ALWAYS, *modules, *chains) for obj in _resolve(name)]
    for obj in found:
        if isinstance(obj, types.ModuleType):
            _record_module(obj, mods, classes)
        elif isinstance(obj, type):
            _record_class(obj, classes)
    shell = _shell()
    for owner in (shell, getattr(shell, "kernel", None), getattr(getattr(shell, "kernel", None), "session", None)):
        if owner is not None:
            _record_class(type(owner), classes)
    _state.update(
        builtins=dict(builtins.__dict__),
        modules=mods,
        classes=classes,
        sys_modules={m.__name__: m for m, _ in mods.values() if sys.modules.get(m.__name__) is m},
        lists={label: (lst, list(lst)) for label, lst in _shell_lists(shell).items()},
        objects=_shell_objects(shell),
        instance={id(o): (o, dict(o.__dict__)) for o in (shell, getattr(shell, "kernel", None)) if o is not None},
        trace=(sys.gettrace(), sys.getprofile(), getattr(threading, "_trace_hook", None),
               getattr(threading, "_profile_hook", None)),
        finders=(list(sys.meta_path), list(sys.path_hooks)),
        numpy_err=_numpy_err(),
        cwd=os.getcwd(),
        environ=dict(os.environ),
        sys_path=list(sys.path),
        log=[],
    )
    _install_audit_hook(tuple(str(s).lower() for s in blocked_files), _state["log"])
    # Everything alive now (the imported libraries: TensorFlow alone is about a million
    # objects) moves to the permanent generation, so a full collection no longer walks it:
    # IPython's reset between notebooks runs one (0.2 s each with Keras loaded, 0.2 ms after).
    gc.freeze()
    return json.dumps({"nonce": nonce, "failed": failed})


def _numpy_err():
    np = sys.modules.get("numpy")
    return np.geterr() if np is not None else None


# --------------------------------------------------------------------------- the audit hook


def _install_audit_hook(blocked: tuple, log: list) -> None:
    def _path_text(path) -> str:
        try:
            path = os.fspath(path)
        except TypeError:
            return ""
        return path.decode("utf-8", "replace") if isinstance(path, bytes) else path

    def hook(event, args):
        if event == "open":
            text = _path_text(args[0]) if args else ""
            if text and text.lower().endswith(blocked):
                log.append(f"tried to open {os.path.basename(text)} (refused: hidden tests are stored there)")
                raise PermissionError(f"the autograder does not let notebook code open {os.path.basename(text)}")
        elif event == "sqlite3.connect":
            log.append("tried to open an SQLite database (refused: the gradebook is one)")
            raise PermissionError("the autograder does not let notebook code open SQLite databases")
        elif event in PROGRAM_EVENTS:
            log.append(f"started a program: {_command(event, args)}")
        elif event == "object.__setattr__" and args and args[0] is hook:
            raise PermissionError("the autograder's audit hook cannot be changed")

    sys.addaudithook(hook)


def _command(event: str, args) -> str:
    """The command line an audit event names, as one short string."""
    try:
        if event == "os.system":
            line = args[0]
        else:
            argv = args[1] if len(args) > 1 else args[0]
            if isinstance(argv, (str, bytes, os.PathLike)):
                argv = [argv]
            line = " ".join(os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else str(a) for a in argv)
    except Exception:
        line = "?"
    line = os.fsdecode(line) if isinstance(line, bytes) else str(line)
    return line if len(line) <= 200 else line[:200] + "..."


# --------------------------------------------------------------------------- putting it back


def _restore_dict(owner_name: str, live, saved: dict, undone: list, *, delete_added) -> None:
    """Put ``saved``'s code entries back into the namespace ``live`` (a dict, or a class)."""
    is_class = isinstance(live, type)
    current = dict(live.__dict__) if is_class else live
    for key, value in saved.items():
        if not _is_code(value):
            continue
        now = current.get(key, _MISSING)
        if _same(now, value) or (owner_name == "builtins" and key in IGNORED_BUILTINS):
            continue
        undone.append(f"{owner_name}.{key} {'deleted' if now is _MISSING else 'replaced'}")
        if is_class:
            setattr(live, key, value)
        else:
            live[key] = value
    for key in [k for k in current if k not in saved]:
        value = current[key]
        if delete_added(key, value):
            undone.append(f"{owner_name}.{key} added ({_name_of(value)})")
            if is_class:
                delattr(live, key)
            else:
                del live[key]


class _Missing:
    pass


_MISSING = _Missing()


def _restore_everything(undone: list) -> None:
    # Extension modules park their own objects in builtins (pybind11 does): only what a
    # notebook cell defined is taken out again.
    _restore_dict("builtins", builtins.__dict__, _state["builtins"], undone,
                  delete_added=lambda k, v: k not in IGNORED_BUILTINS and _from_notebook(v))
    for name, module in _state["sys_modules"].items():
        if sys.modules.get(name) is not module:
            undone.append(f"sys.modules[{name!r}] replaced")
            sys.modules[name] = module
    for module, saved in _state["modules"].values():
        _restore_dict(module.__name__, module.__dict__, saved, undone,
                      delete_added=lambda k, v: _from_notebook(v) and _is_code(v))
    for cls, saved in _state["classes"].values():
        _restore_dict(_name_of(cls), cls, saved, undone,
                      delete_added=lambda k, v: _is_code(v) and not isinstance(v, type))
    for owner, saved in _state["instance"].values():
        for key in [k for k, v in vars(owner).items() if callable(v) and not _same(saved.get(k, _MISSING), v)]:
            undone.append(f"{type(owner).__name__}.{key} replaced on the running instance")
            if key in saved:
                setattr(owner, key, saved[key])
            else:
                delattr(owner, key)
    for label, (owner, attr, value) in _state["objects"].items():
        if not _same(getattr(owner, attr, None), value):
            undone.append(f"{label} replaced")
            setattr(owner, attr, value)
    for label, (lst, items) in _state["lists"].items():
        # Transformers: only what was there before the first cell. Event callbacks: libraries
        # add their own as cells run (%matplotlib inline does), so only the notebook's go.
        events = label.endswith("event callback")
        added = [x for x in lst if not any(x is y for y in items) and (not events or _from_notebook(x))]
        missing = [y for y in items if not any(x is y for x in lst)]
        undone.extend(f"{label} added: {_name_of(x)}" for x in added)
        undone.extend(f"{label} removed: {_name_of(y)}" for y in missing)
        if added or missing:
            library = [x for x in lst if not any(x is y for y in items) and not any(x is a for a in added)]
            lst[:] = list(items) + library
    shell = _shell()
    if shell is not None:
        for label, lst in _shell_lists(shell).items():  # an event name the record does not know
            if label not in _state["lists"]:
                added = [x for x in lst if _from_notebook(x)]
                undone.extend(f"{label} added: {_name_of(x)}" for x in added)
                lst[:] = [x for x in lst if not _from_notebook(x)]
    trace, profile, thread_trace, thread_profile = _state["trace"]
    if sys.gettrace() is not trace or sys.getprofile() is not profile:
        undone.append("sys.settrace / sys.setprofile hook set")
        sys.settrace(trace)
        sys.setprofile(profile)
    if getattr(threading, "_trace_hook", None) is not thread_trace or \
            getattr(threading, "_profile_hook", None) is not thread_profile:
        undone.append("threading.settrace / threading.setprofile hook set")
        threading.settrace(thread_trace)
        threading.setprofile(thread_profile)
    meta_path, path_hooks = _state["finders"]
    for live, label in ((sys.meta_path, "sys.meta_path"), (sys.path_hooks, "sys.path_hooks")):
        for finder in [f for f in live if _from_notebook(f) or _from_notebook(type(f))]:
            undone.append(f"{label} entry added: {_name_of(type(finder))}")
            live.remove(finder)
    if _state["numpy_err"] is not None and _numpy_err() != _state["numpy_err"]:
        undone.append("numpy error handling changed (numpy.seterr)")
        sys.modules["numpy"].seterr(**_state["numpy_err"])


def restore(nonce: str) -> str:
    """Put the recorded state back.

    Returns JSON: ``{"nonce", "undone": [what was changed], "log": [refused file opens and
    programs started since the last call]}``; both lists are empty for an honest notebook.
    """
    undone: list[str] = []
    if _state:
        _restore_everything(undone)
        log = list(_state["log"])
        del _state["log"][:]
    else:
        log = ["the guard has no snapshot (it was not taken before the first cell)"]
    return json.dumps({"nonce": nonce, "undone": undone, "log": log})


def next_notebook(nonce: str) -> str:
    """Between two notebooks graded in one kernel (``GuardedExecute.share_kernel``): put
    the recorded state back as :func:`restore` does, then give the next notebook what a
    new kernel would give it: an empty namespace (IPython's ``reset``, which keeps imported
    modules), execution count 1, the working folder, environment variables and
    ``sys.path`` of the snapshot, and no open matplotlib figures.

    Returns JSON like :func:`restore`'s. The namespace, folder and environment are reset
    without a word: an honest notebook may define names, change folder or set a variable.
    """
    shell = _shell()
    if shell is not None:
        shell.reset(new_session=False)
        shell.execution_count = 1
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:  # a broken pyplot is the next notebook's problem, as in a new kernel
            pass
    if _state:
        try:
            os.chdir(_state["cwd"])
        except OSError:
            pass
        if dict(os.environ) != _state["environ"]:
            os.environ.clear()
            os.environ.update(_state["environ"])
        sys.path[:] = _state["sys_path"]
    return restore(nonce)


# --------------------------------------------------------------------------- around a graded call


def checkpoint() -> object:
    """The notebook's imported names (modules and code from outside the notebook), taken
    just before a test calls a student's function; pass it to :func:`restore_after_call`."""
    shell = _shell()
    ns = shell.user_ns if shell is not None else {}
    return {k: v for k, v in ns.items() if isinstance(v, types.ModuleType) or
            (_is_code(v) and not _from_notebook(v) and not isinstance(v, types.MethodType))}


def restore_after_call(names: object, function: str) -> list[str]:
    """Undo what a student's ``function`` changed while a test called it: everything
    :func:`restore` covers, and the test's own imported names (``names`` from
    :func:`checkpoint`). Returns the sentences; the calling test fails when there are any."""
    undone: list[str] = []
    if _state:
        _restore_everything(undone)
    shell = _shell()
    ns = shell.user_ns if shell is not None else {}
    for key, value in dict(names).items():
        if ns.get(key, _MISSING) is not value:
            undone.append(f"the test's name {key} rebound")
            ns[key] = value
    _state.setdefault("log", []).extend(f"while {function} ran: {u}" for u in undone)
    return undone
