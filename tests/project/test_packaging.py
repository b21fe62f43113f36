"""The three dependency lists (pyproject, environment.yml, constraints.txt) must agree."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_requirements(extras=("instructor", "test")):
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in extras:
        reqs += meta["optional-dependencies"][extra]
    return {_name(r): r for r in reqs}


def conda_requirements(filename="environment.yml"):
    names = {}
    in_deps = False
    for line in (ROOT / filename).read_text().splitlines():
        if not line.startswith(" "):
            in_deps = line.startswith("dependencies:")
            continue
        m = in_deps and re.match(r"^\s{2}- ([A-Za-z0-9_.-]+)(.*)$", line)
        if m and m.group(1) not in ("python", "pip"):
            names[m.group(1).lower()] = (m.group(1) + m.group(2)).replace(" ", "")
    return names


@pytest.mark.parametrize("filename, extras", [("environment.yml", ("instructor", "test")),
                                               ("environment-student.yml", ("student",))])
def test_environment_yml_names_the_same_packages_as_pyproject(filename, extras):
    py = pyproject_requirements(extras)
    conda = conda_requirements(filename)
    assert set(conda) == set(py), (
        f"only in environment.yml: {sorted(set(conda) - set(py))}; "
        f"only in pyproject.toml: {sorted(set(py) - set(conda))}"
    )
    for name, req in py.items():
        assert conda[name] == req.replace(" ", ""), f"{name}: pyproject says {req!r}, environment.yml {conda[name]!r}"


def test_constraints_pin_every_direct_dependency():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_name(name)] = version.strip()
    missing = [n for n in pyproject_requirements(("instructor", "test", "bench", "browser", "lint")) if n not in pins]
    assert not missing, f"constraints.txt does not pin {missing}"


def test_students_get_no_instructor_tools():
    """nbgrader's lab extensions put Formgrader/Create Assignment/Validate in the menus."""
    student = pyproject_requirements(("student",))
    assert "nbgrader" not in student and "nbgrader" in pyproject_requirements(("instructor",))
    assert {"jupyterlab", "ipykernel"} <= set(student)


def _all_extras_but_bench():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return tuple(e for e in meta.get("optional-dependencies", {}) if e not in ("bench", "browser", "lint"))


def _lower_bound(req: str) -> str | None:
    m = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", req)
    return m.group(1) if m else None


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==")
            pins[_name(name)] = version.strip()
    return pins


def test_min_test_pins_are_the_lower_bounds():
    """`make test-min` installs tests/min/lower-bounds.txt: it must pin exactly the lower
    bound of every dependency in pyproject.toml (and so in environment.yml)."""
    py = pyproject_requirements(_all_extras_but_bench())
    pins = _pins(ROOT / "tests" / "min" / "lower-bounds.txt")
    assert set(pins) == set(py), (f"only in lower-bounds.txt: {sorted(set(pins) - set(py))}; "
                                  f"only in pyproject.toml: {sorted(set(py) - set(pins))}")
    for name, req in py.items():
        assert _lower_bound(req) is not None, f"{name}: {req!r} has no '>=' lower bound"
        assert pins[name] == _lower_bound(req), f"{name}: pyproject says {req!r}, lower-bounds.txt {pins[name]}"
    wanted = {_name(line) for line in (ROOT / "tests" / "min" / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert wanted == set(py)
