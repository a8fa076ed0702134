"""Files that appear whole or not at all: atomic writes, JSON reading, and staging folders.

A file is written to a hidden temporary file in its own folder, flushed to disk, then renamed over the
target, so a reader sees the old content or the new, never half of it. A folder (an imported dataset, an
imported run) is built inside a hidden staging folder next to its target and renamed into place.

    python -c "from mnist_core import files; files.write_json_atomic('x.json', [1]); print(files.read_json('x.json'))"
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path | str, obj) -> None:
    write_bytes_atomic(path, json.dumps(obj, indent=2, default=_json_default).encode())


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_json(path: Path | str, default=None, error: type[Exception] = ValueError):
    """The parsed file; `default` when it does not exist; `error` (the caller's own type, so that its callers
    catch one error) naming the file when it cannot be read or parsed."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise error(f"{path} is unreadable: {exc}") from exc


@contextmanager
def staging_dir(parent: Path | str, prefix: str) -> Iterator[Path]:
    """A new hidden folder inside `parent`, removed afterwards with whatever is still in it.

    Build a folder in it, then os.rename that folder to its place in `parent`: the same file system, so the
    rename is atomic, and the hidden name (".<prefix>...") keeps listings from seeing the half-built one.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
