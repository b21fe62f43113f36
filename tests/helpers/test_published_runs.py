"""Published reference runs: verified on download, reused instead of retraining, and a
changed manifest or file refused with a message that says so."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import course, published_runs
from helpers.digest import sha256_bytes


def _fake_run(folder):
    folder.mkdir(parents=True)
    (folder / "run.json").write_text('{"what": "a run"}')
    np.save(folder / "target_vectors.npy", np.arange(12, dtype=np.float32).reshape(4, 3))
    return folder


def _spec(pub):
    sha = sha256_bytes((pub / published_runs.MANIFEST).read_bytes())
    return f"{(pub / published_runs.MANIFEST).as_uri()}#sha256={sha}"


def test_install_copies_exactly_what_was_published(tmp_path):
    run = _fake_run(tmp_path / "cache" / "reference-default-0123456789ab")
    pub = tmp_path / "pub"
    sha = published_runs.write_published([run], pub)
    assert sha == sha256_bytes((pub / "manifest.json").read_bytes())
    dest = tmp_path / "fresh" / run.name
    assert published_runs.install(run.name, dest, _spec(pub)) is True
    for name in ("run.json", "target_vectors.npy"):
        assert (dest / name).read_bytes() == (run / name).read_bytes()
    # another run's settings are not in the manifest: the caller trains
    assert published_runs.install("reference-default-ffffffffffff", tmp_path / "other", _spec(pub)) is False
    assert not (tmp_path / "other").exists()


def test_changed_manifest_is_refused(tmp_path):
    run = _fake_run(tmp_path / "cache" / "reference-default-0123456789ab")
    pub = tmp_path / "pub"
    published_runs.write_published([run], pub)
    spec = _spec(pub)
    manifest = json.loads((pub / "manifest.json").read_text())
    manifest["runs"][run.name]["target_vectors.npy"] = "0" * 64
    (pub / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(published_runs.TamperedReferenceError, match="changed after the release"):
        published_runs.install(run.name, tmp_path / "fresh" / run.name, spec)
    assert not (tmp_path / "fresh" / run.name).exists()


def test_changed_file_is_refused_and_nothing_is_left(tmp_path):
    run = _fake_run(tmp_path / "cache" / "reference-default-0123456789ab")
    pub = tmp_path / "pub"
    published_runs.write_published([run], pub)
    np.save(pub / run.name / "target_vectors.npy", np.zeros((4, 3), dtype=np.float32))
    dest = tmp_path / "fresh" / run.name
    with pytest.raises(published_runs.TamperedReferenceError, match="target_vectors.npy does not match"):
        published_runs.install(run.name, dest, _spec(pub))
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir()] == []   # no temporary folder left behind


@pytest.mark.parametrize("spec", ["https://x/manifest.json", "ftp://x/m.json#sha256=" + "a" * 64,
                                  "https://x/m.json#sha256=abc"])
def test_bad_spec_names_the_value(spec):
    with pytest.raises(ValueError, match="SONGREC_REFERENCE_RUNS must look like"):
        published_runs.parse_spec(spec)


def test_reference_run_reuses_the_published_run_without_training(tmp_path, monkeypatch):
    from helpers import sgns

    monkeypatch.setenv("SONGREC_PROFILE", "grading")
    monkeypatch.delenv(published_runs.REFERENCE_RUNS_ENV, raising=False)
    monkeypatch.setenv("SONGREC_CACHE_DIR", str(tmp_path / "instructor"))
    mapping = course.reference_mapping()
    rows = mapping.vocab.size + 1
    vectors = np.random.default_rng(0).normal(size=(rows, 8)).astype(np.float32)

    def fake_train(train_encoded, vocab_size, config, val=None, **kw):
        return SimpleNamespace(target_vectors=vectors, context_vectors=None, n_pairs=1, seconds=0.0,
                               history={"loss": [1.0]})

    monkeypatch.setattr(sgns, "train", fake_train)
    trained = course.reference_run(mapping)
    pub = tmp_path / "pub"
    published_runs.write_published([trained.path], pub)

    def must_not_train(*a, **kw):
        raise AssertionError("retrained although a verified published run was there")

    monkeypatch.setattr(sgns, "train", must_not_train)
    monkeypatch.setenv("SONGREC_CACHE_DIR", str(tmp_path / "student"))
    monkeypatch.setenv(published_runs.REFERENCE_RUNS_ENV, _spec(pub))
    reused = course.reference_run(mapping)
    np.testing.assert_array_equal(reused.target_vectors, vectors)
    assert str(tmp_path / "student") in str(reused.path)


def test_local_spec_names_the_manifest_and_the_hash_write_published_returned(tmp_path):
    run = _fake_run(tmp_path / "cache" / "reference-default-0123456789ab")
    pub = tmp_path / "pub"
    sha = published_runs.write_published([run], pub)
    spec = published_runs.local_spec(pub)
    assert published_runs.parse_spec(spec) == ((pub / "manifest.json").resolve().as_uri(), sha)
    assert published_runs.install(run.name, tmp_path / "fresh" / run.name, spec) is True
