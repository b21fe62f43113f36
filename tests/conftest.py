"""Shared fixtures."""

import os
from pathlib import Path

import pytest


@pytest.fixture
def real_data_dir() -> Path:
    """The Cornell data folder from SONGREC_DATA_DIR; skips the test when it is not set."""
    value = os.environ.get("SONGREC_DATA_DIR")
    if not value:
        pytest.skip("SONGREC_DATA_DIR not set: real-data test skipped")
    return Path(value)
