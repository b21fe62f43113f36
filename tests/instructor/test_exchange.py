"""The instructor environment's nbgrader exchange works out of the box (nbgrader_config.py).

Without a configured exchange, nbgrader looks for /usr/local/share/nbgrader/exchange, and
the formgrader and the Assignment List show "The exchange directory ... does not exist".
The browser test checks the formgrader page itself (tests/instructor/test_browser.py).
"""

import subprocess
import sys

import nbgrader_toy as toy

from tools.instructor import nbgrader_calls, paths


def _nbgrader_list(root, env=None):
    return subprocess.run([sys.executable, "-m", "nbgrader", "list"], cwd=root, capture_output=True,
                          text=True, env=nbgrader_calls.course_env(env), timeout=120)


def test_course_exchange_is_created_and_nbgrader_can_list_it(tmp_path):
    toy.build_toy_course(tmp_path)
    proc = _nbgrader_list(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "does not exist" not in proc.stdout + proc.stderr
    assert (tmp_path / "exchange").is_dir()
    assert paths.load_course_config(tmp_path).Exchange.root == str(tmp_path / "exchange")


def test_songrec_exchange_names_a_shared_exchange(tmp_path, monkeypatch):
    toy.build_toy_course(tmp_path / "course")
    shared = tmp_path / "srv" / "exchange"
    monkeypatch.setenv("SONGREC_EXCHANGE", str(shared))
    assert paths.load_course_config(tmp_path / "course").Exchange.root == str(shared)
    assert shared.is_dir() and not (tmp_path / "course" / "exchange").exists()
    proc = _nbgrader_list(tmp_path / "course")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nbgrader_default_exchange_is_what_the_config_avoids(tmp_path):
    """The failure the course config prevents: nbgrader's default root is missing here."""
    toy.build_toy_course(tmp_path)
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'song2vec'\n"
        f"c.Exchange.root = {str(tmp_path / 'missing' / 'exchange')!r}\n")
    proc = _nbgrader_list(tmp_path)
    assert proc.returncode != 0 and "Unwritable directory" in proc.stdout + proc.stderr
