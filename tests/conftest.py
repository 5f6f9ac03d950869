"""Shared test fixtures: where the read-only reference material lives."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("AETRACK_SHARED", Path(__file__).resolve().parents[2] / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The `../shared` folder of reference fixtures and data; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"reference folder {SHARED} not present (set AETRACK_SHARED)")
    return SHARED
