"""Write a JSON file atomically: readers see the old file or the complete new one, never half of it."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from aetrack.errors import AetrackError


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = None) -> Path:
    """Serialise `obj` to a temporary file beside `path`, then rename it over `path`; returns `path`.

    The parent folder is created if missing. A failure leaves any previous file untouched.
    """
    path = Path(path)
    text = json.dumps(obj, indent=indent)  # serialise first, so a bad object fails before the disk is touched
    # Same folder, so os.replace is a rename within one file system (atomic on POSIX and Windows).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_synced(tmp, text)
        os.replace(tmp, path)
    except OSError as exc:
        raise AetrackError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)  # already gone after a successful replace
    return path


def _write_synced(path: Path, text: str) -> None:
    """Create `path` (it must not exist) holding `text`, flushed to disk before returning."""
    # os.open with 0o666 lets the umask decide the mode, as for an ordinary open(); mkstemp would force 0o600.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
