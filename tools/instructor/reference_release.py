"""The release's copy of the course's reference runs (``helpers.published_runs``).

Parts 5 and 6 start from reference runs; on Colab each notebook runs in a fresh runtime,
so without a published copy each one retrains them (minutes). The release trains them
once, in the default profile with the course data, writes them beside the notebooks
(``release/song2vec/reference/``, published with them onto the badges' branch) and bakes
``<manifest URL>#sha256=<manifest hash>`` into the setup cells that read it.

Environment: ``SONGREC_PUBLISH_REFERENCE=1`` turns it on (``make release`` sets it);
``SONGREC_REFERENCE_URL`` is the folder URL the notebooks download from (default: the raw
GitHub folder of the release branch).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TextIO

from helpers import environment
from tools.instructor.colab import ColabSettings
from tools.instructor.settings import ASSIGNMENT, COST_CONTEXT, STUDENT_COST

# What each notebook costs a student in the default profile, roughly (seconds on two quiet
# CPU cores with the data already there; issue 19's and bench/RESULTS.md's measurements).
# The release prints them so the instructor can tell students before they start.
PUBLISH_ENV = environment.PUBLISH_REFERENCE
URL_ENV = environment.REFERENCE_URL
FOLDER = "reference"


def wanted(environ=os.environ) -> bool:
    """True when the release should train and publish the reference runs."""
    return environ.get(PUBLISH_ENV, "") == "1"


def reference_url(settings: ColabSettings, environ=os.environ) -> str:
    """Folder URL the released notebooks download the runs from."""
    value = environ.get(URL_ENV, "").strip().rstrip("/")
    if value:
        if not value.startswith(("https://", "http://", "file://")) or any(c in value for c in "\"'#\n "):
            raise ValueError(f"{URL_ENV} must be an http(s):// or file:// URL without quotes or '#', got {value!r}")
        return value
    return f"https://raw.githubusercontent.com/{settings.repo}/{settings.branch}/{ASSIGNMENT}/{FOLDER}"


def write_reference_runs(dest: Path, profile_name: str, out: TextIO) -> str:
    """Train (or reuse the local cache of) the reference runs of profile ``profile_name``
    (``course.PUBLISHED_REFERENCE_OVERRIDES``), copy them with a manifest into ``dest`` and
    return the manifest's sha256; "" (with a note) when the profile's data is missing."""
    from helpers import course, published_runs

    saved = os.environ.get(environment.PROFILE)
    saved_spec = os.environ.pop(published_runs.REFERENCE_RUNS_ENV, None)  # train from the data, not a download
    os.environ[environment.PROFILE] = profile_name
    try:
        try:
            mapping = course.reference_mapping()
        except FileNotFoundError as exc:
            print(f"NOTE: no reference runs published ({exc}); on Colab parts 5 and 6 will train them "
                  "(minutes each)", file=out)
            return ""
        dirs = []
        for overrides in course.PUBLISHED_REFERENCE_OVERRIDES:
            start = time.perf_counter()
            run = course.reference_run(mapping, **overrides)
            print(f"reference run {run.path.name} {overrides or ''}: {time.perf_counter() - start:.0f} s", file=out)
            dirs.append(Path(run.path))
    finally:
        if saved is None:
            os.environ.pop(environment.PROFILE, None)
        else:
            os.environ[environment.PROFILE] = saved
        if saved_spec is not None:
            os.environ[published_runs.REFERENCE_RUNS_ENV] = saved_spec
    return published_runs.write_published(dirs, dest)


def publish_reference_runs(release_dir: Path, settings: ColabSettings, out: TextIO,
                           profile_name: str = "default") -> str:
    """:func:`write_reference_runs` of profile ``profile_name`` (the one students run:
    ``default``; the simulated-Colab test publishes ``ci``'s) into ``release_dir/reference``;
    returns the spec to bake (``URL#sha256=HEX``), "" when the course data is missing."""
    from helpers import published_runs

    sha = write_reference_runs(release_dir / FOLDER, profile_name, out)
    if not sha:
        return ""
    spec = f"{reference_url(settings)}/{published_runs.MANIFEST}#sha256={sha}"
    print(f"reference runs published in {release_dir / FOLDER}; notebooks verify {spec}", file=out)
    return spec


def print_costs(published: bool, out: TextIO) -> None:
    """The student's rough wait per notebook, for the release summary."""
    print(f"what each notebook costs a student ({COST_CONTEXT}; each released notebook's first cell says so too):",
          file=out)
    for name, cost in STUDENT_COST.items():
        if not published and name in ("05_recommend", "06_questions"):
            cost = cost.split("(")[-1].rstrip(")") + " (no published reference runs in this release)"
        print(f"  {name}: {cost}", file=out)
