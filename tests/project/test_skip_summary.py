"""A run that skips tests ends with one summary: each reason once, with its count (issue 20)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_skips_are_summarised_by_reason(tmp_path):
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_some.py").write_text(
        "import pytest\n"
        "def test_a(): pytest.skip('no chromium on PATH: run make browser-deps')\n"
        "def test_b(): pytest.skip('no chromium on PATH: run make browser-deps')\n"
        "def test_c(): pytest.skip('no bwrap: run make sandbox-deps')\n"
        "def test_d(): pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.split("what was skipped and how to run it", 1)
    assert len(summary) == 2, proc.stdout
    lines = summary[1].splitlines()
    assert "   2 skipped: no chromium on PATH: run make browser-deps" in lines
    assert "   1 skipped: no bwrap: run make sandbox-deps" in lines
    # the biggest group first
    assert lines.index("   2 skipped: no chromium on PATH: run make browser-deps") < \
        lines.index("   1 skipped: no bwrap: run make sandbox-deps")


def test_no_summary_without_skips(tmp_path):
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_some.py").write_text("def test_d(): pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "what was skipped" not in proc.stdout
