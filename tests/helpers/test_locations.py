"""Where data and caches go (checkout vs installed package vs Colab), and which URL is fetched."""

import hashlib
import io
import sys
import tarfile
import types
from pathlib import Path

import pytest

from helpers import course, data, fetch, locations
from helpers.cli import main
from tests.helpers.test_data import SONG_HASH, TAG_HASH, TAGS, TRAIN

VARIANT_FILES = {
    "train.txt": TRAIN.encode(),
    "song_hash.txt": SONG_HASH.encode(),
    "tags.txt": TAGS.encode(),
    "tag_hash.txt": TAG_HASH.encode(),
}


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """helpers behaves as a non-editable install: no checkout, a fresh home, no settings."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "SONGREC_DATA_DIR", "SONGREC_CACHE_DIR",
                 "SONGREC_DATA_URL", "SONGREC_COURSE_PICKLE"):
        monkeypatch.delenv(name, raising=False)
    site = tmp_path / "site-packages"
    (site / "helpers").mkdir(parents=True)
    monkeypatch.setattr(locations, "PACKAGE_PARENT", site)
    return home


def test_checkout_is_recognised_by_its_pyproject(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    assert locations.checkout_root(repo) == repo
    (tmp_path / "helpers").mkdir()
    assert locations.checkout_root(tmp_path) is None  # site-packages: no pyproject.toml
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    assert locations.checkout_root(tmp_path) == tmp_path


def test_checkout_keeps_data_and_cache_inside_it(monkeypatch):
    monkeypatch.delenv("SONGREC_CACHE_DIR", raising=False)
    repo = Path(__file__).resolve().parents[2]
    assert locations.default_data_dir() == repo / "data" / "cornell"
    assert data.default_data_dir() == repo / "data" / "cornell"
    assert locations.course_cache_root() == repo / "runs" / "course"


def test_installed_package_uses_per_user_folders(installed, monkeypatch, tmp_path):
    assert data.default_data_dir() == installed / ".local" / "share" / "songrec" / "cornell"
    assert locations.course_cache_root() == installed / ".cache" / "songrec" / "course"
    for path in (data.default_data_dir(), locations.course_cache_root()):
        assert "site-packages" not in path.parts
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec ignores relative values
    assert data.default_data_dir() == tmp_path / "xdg-data" / "songrec" / "cornell"
    assert locations.course_cache_root() == installed / ".cache" / "songrec" / "course"


def test_environment_variables_win_over_every_default(installed, monkeypatch, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    monkeypatch.setenv("SONGREC_DATA_DIR", str(mine))
    monkeypatch.setenv("SONGREC_CACHE_DIR", str(tmp_path / "cache"))
    assert data.find_data_dir(None) == mine
    assert locations.course_cache_root() == tmp_path / "cache"


def test_data_url_is_the_mirror_when_set(monkeypatch):
    monkeypatch.delenv("SONGREC_DATA_URL", raising=False)
    assert fetch.data_url() == fetch.CORNELL_URL
    monkeypatch.setenv("SONGREC_DATA_URL", "  ")
    assert fetch.data_url() == fetch.CORNELL_URL
    monkeypatch.setenv("SONGREC_DATA_URL", "https://course.example/dataset.tar.gz")
    assert fetch.data_url() == "https://course.example/dataset.tar.gz"


def _variant_archive(folder: Path, variant: str = "yes_complete") -> tuple[Path, dict]:
    """A Cornell-layout archive holding only ``variant``, and its checksum table."""
    archive = folder / "dataset.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, body in VARIANT_FILES.items():
            info = tarfile.TarInfo(f"dataset/{variant}/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    known = {f"{variant}/{name}": (len(body), hashlib.sha256(body).hexdigest())
             for name, body in VARIANT_FILES.items()}
    # Files of other variants stay in the table: a mirror need not carry them.
    known["yes_small/train.txt"] = (3, "0" * 64)
    return archive, known


def test_colab_downloads_from_the_mirror_into_the_user_folder(installed, monkeypatch, tmp_path, capsys):
    archive, known = _variant_archive(tmp_path)
    monkeypatch.setattr(fetch, "KNOWN_FILES", known)
    monkeypatch.setenv("SONGREC_DATA_URL", archive.as_uri())
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(course, "_DATASET_CACHE", {})
    ds = course.load_dataset()
    target = installed / ".local" / "share" / "songrec" / "cornell"
    assert archive.as_uri() in capsys.readouterr().out
    assert sorted(p.name for p in (target / "yes_complete").iterdir()) == sorted(VARIANT_FILES)
    assert [list(p) for p in ds.playlists] == [[0, 1, 2], [2, 0]]


def test_colab_download_refuses_a_mirror_with_a_wrong_file(installed, monkeypatch, tmp_path):
    archive, known = _variant_archive(tmp_path)
    size, _ = known["yes_complete/tags.txt"]
    known["yes_complete/tags.txt"] = (size, "f" * 64)
    monkeypatch.setattr(fetch, "KNOWN_FILES", known)
    monkeypatch.setenv("SONGREC_DATA_URL", archive.as_uri())
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(course, "_DATASET_CACHE", {})
    with pytest.raises(fetch.ChecksumError, match="tags.txt"):
        course.load_dataset()
    assert not (installed / ".local" / "share" / "songrec" / "cornell").exists()


def test_cli_fetch_uses_the_same_url(monkeypatch, tmp_path, capsys):
    seen = {}

    def fake_fetch(dest, url, **kw):
        seen["url"] = url
        raise fetch.OfflineError("stop here")

    monkeypatch.setattr(fetch, "fetch", fake_fetch)
    monkeypatch.setenv("SONGREC_DATA_URL", "http://127.0.0.1:9/mirror.tar.gz")
    assert main(["data", "fetch", "--data-dir", str(tmp_path / "cornell")]) == 1
    assert seen["url"] == "http://127.0.0.1:9/mirror.tar.gz"


def test_reference_run_is_cached_under_the_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("SONGREC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SONGREC_PROFILE", "ci")
    path = course._cache_dir("reference", {"a": 1})
    assert path.parent == tmp_path / "cache" and path.name.startswith("reference-ci-")
