"""Shared fixtures."""

import os
import sys
from pathlib import Path

import pytest

# Tests live in one folder per package (helpers/, instructor/, notebooks/, project/); the
# modules they share (nbgrader_toy, real_attacks, pairs_by_loop) stay here, importable by name.
TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


@pytest.fixture
def real_data_dir() -> Path:
    """The Cornell data folder from SONGREC_DATA_DIR; skips the test when it is not set."""
    value = os.environ.get("SONGREC_DATA_DIR")
    if not value:
        pytest.skip("SONGREC_DATA_DIR not set: real-data test skipped")
    return Path(value)
