"""The artifact store: finished runs and imported datasets kept as immutable objects outside this machine's disk.

With MNIST_ARTIFACTS set to an fsspec URL (s3://bucket/prefix, gs://bucket/prefix, az://container/prefix,
file:///srv/artifacts), a run is uploaded when it ends as finished (its label issues and map follow when the
worker has written them) and a dataset when it is imported:

    <store>/runs/<run id>/<file>          config.json, status.json, metrics.jsonl, model.pt, probs.pt, ...
    <store>/runs/<run id>/_artifact.json  written last: every file's size and sha256 (an upload that broke off
                                          has none, so it is never listed)
    <store>/datasets/<name>/...           manifest.json, data.npz, and their _artifact.json

A server that starts with an empty disk lists what is only in the store and copies it into its runs or datasets
folder on first use (a hidden staging folder, checked against the checksums, then renamed into place), after
which everything reads local files as before. Deleting a run or dataset deletes its objects. Credentials come
from the backend's usual environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for S3, ...); the endpoint of
an S3-compatible server from MNIST_ARTIFACTS_ENDPOINT. Messages name the store as its URL and never quote a
credential. This module knows folders and objects only (the run store and data sources call it):

    MNIST_ARTIFACTS=file:///tmp/store python -c "from mnist_core import artifacts as a; print(a.remote_names('runs'))"
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from pathlib import Path

from mnist_core.files import staging_dir

URL_ENV, ENDPOINT_ENV, TTL_ENV = "MNIST_ARTIFACTS", "MNIST_ARTIFACTS_ENDPOINT", "MNIST_ARTIFACTS_LIST_TTL"
INDEX = "_artifact.json"
SKIPPED = {"cancel"}  # a pending cancel request is no part of a finished run
KINDS = ("runs", "datasets")
_SECRET_ENVS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_KEY", "AZURE_STORAGE_CONNECTION_STRING")


class ArtifactError(RuntimeError):
    """The artifact store cannot be reached, or holds a run or dataset that is incomplete or damaged."""


def configured() -> bool:
    return bool(os.environ.get(URL_ENV, "").strip())


def store_url() -> str:
    return os.environ.get(URL_ENV, "").strip().rstrip("/")


_fs_cache: dict[tuple, tuple] = {}
_listing: dict[tuple, tuple[float, list[str] | str]] = {}  # (url, kind) -> (when, names or why it failed)
_lock = threading.Lock()


def _fs():
    """(file system, root path) for MNIST_ARTIFACTS; ArtifactError when fsspec cannot open it."""
    import fsspec

    url, endpoint = store_url(), os.environ.get(ENDPOINT_ENV, "").strip()
    key = (url, endpoint)
    if key not in _fs_cache:
        options = {}
        if url.startswith(("s3://", "s3a://")):  # fail within seconds, not minutes, when the store is away
            options = {"config_kwargs": {"connect_timeout": 5, "retries": {"max_attempts": 2}}}
            options |= {"endpoint_url": endpoint} if endpoint else {}
        if url.startswith(("file://", "local://", "/")):
            options["auto_mkdir"] = True  # object stores have no folders; a disk needs them made
        try:
            fs, root = fsspec.core.url_to_fs(url, **options)
        except (ImportError, ValueError) as exc:
            raise ArtifactError(f"The artifact store {url} cannot be opened: {_clean(exc)}") from None
        _fs_cache[key] = (fs, root.rstrip("/"))
    return _fs_cache[key]


def _clean(exc: BaseException) -> str:
    """An exception as one line, with any credential from the environment blanked out."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    for name in _SECRET_ENVS:
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _what(kind: str, name: str) -> str:
    return f"Run {name}" if kind == "runs" else f"Dataset {name!r}"


def push(kind: str, folder: Path) -> None:
    """Upload a finished run or an imported dataset folder. Objects already there are never rewritten (a run id
    or dataset name is never reused); files added to the folder since its last push (a run's label issues and
    embedding map, written after it finished) are uploaded and the index is rewritten after them, so a reader
    sees either the old set or the new one. ArtifactError when the upload fails."""
    folder = Path(folder)
    fs, root = _fs()
    base = f"{root}/{kind}/{folder.name}"
    try:
        try:
            files = json.loads(fs.cat_file(f"{base}/{INDEX}"))["files"]
        except FileNotFoundError:
            files = {}
        new = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name not in SKIPPED
               and not p.name.startswith(".") and p.name not in files]
        if not new:
            return
        for path in new:
            data = path.read_bytes()
            fs.pipe_file(f"{base}/{path.name}", data)
            files[path.name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        fs.pipe_file(f"{base}/{INDEX}", json.dumps({"kind": kind, "name": folder.name, "files": files}).encode())
    except Exception as exc:  # the backend's own errors (botocore, aiohttp, OSError) have no common base
        raise ArtifactError(f"{_what(kind, folder.name)} could not be saved to the artifact store {store_url()}: "
                            f"{_clean(exc)}") from None
    forget_listing()


def push_quietly(kind: str, folder: Path) -> str | None:
    """push() where the work itself already succeeded (a run finished, a dataset imported): a failed upload
    is reported (returned, and on stderr, e.g. the worker's log) but does not undo the work."""
    if not configured():
        return None
    try:
        push(kind, folder)
    except ArtifactError as exc:
        print(f"artifact store: {exc}", file=sys.stderr)
        return str(exc)
    return None


def remote_names(kind: str) -> list[str]:
    """The names (run ids, dataset names) complete in the store, cached for MNIST_ARTIFACTS_LIST_TTL seconds
    (default 30: every page rerun lists runs, and a listing is a round trip). [] when no store is set."""
    if not configured():
        return []
    key = (store_url(), kind)
    ttl = float(os.environ.get(TTL_ENV, "30") or 0)
    with _lock:
        cached = _listing.get(key)
    if cached and time.monotonic() - cached[0] < ttl:  # a failure too: each page rerun must not wait for it
        if isinstance(cached[1], str):
            raise ArtifactError(cached[1])
        return cached[1]
    fs, root = _fs()
    try:
        fs.invalidate_cache()  # s3fs caches listings per process; other processes (workers) upload too
        found = fs.glob(f"{root}/{kind}/*/{INDEX}")
    except FileNotFoundError:
        found = []
    except Exception as exc:
        message = f"The artifact store {store_url()} cannot be listed: {_clean(exc)}"
        print(f"artifact store: {message}", file=sys.stderr)
        with _lock:
            _listing[key] = (time.monotonic(), message)
        raise ArtifactError(message) from None
    names = sorted({Path(p).parent.name for p in found})
    with _lock:
        _listing[key] = (time.monotonic(), names)
    return names


def forget_listing() -> None:
    """Drop the cached listing and failures: after an upload or delete here, the next look asks the store."""
    with _lock:
        _listing.clear()
        _failed.clear()


def fetch(kind: str, name: str, parent: Path) -> Path:
    """Copy a run or dataset from the store into <parent>/<name>, whole or not at all; the folder.

    Every object is checked against the size and sha256 recorded when it was uploaded, so a missing or
    damaged object gives an ArtifactError naming the run or dataset and the file, never a half copy."""
    parent = Path(parent)
    target = parent / name
    what = _what(kind, name)
    fs, root = _fs()
    base = f"{root}/{kind}/{name}"
    try:
        index = json.loads(fs.cat_file(f"{base}/{INDEX}"))
        files = index["files"]
        assert isinstance(files, dict) and all(isinstance(v, dict) for v in files.values())
    except FileNotFoundError:
        raise ArtifactError(f"{what} is not in the artifact store {store_url()} (deleted meanwhile?)") from None
    except (ValueError, KeyError, TypeError, AssertionError):
        raise ArtifactError(f"{what} in the artifact store {store_url()} is damaged: its index {INDEX} is not "
                            "readable. Delete it, or restore its objects from a backup.") from None
    except Exception as exc:
        raise ArtifactError(f"{what} could not be read from the artifact store {store_url()}: {_clean(exc)}"
                            ) from None
    with staging_dir(parent, ".fetch-") as staging:
        folder = staging / name
        folder.mkdir()
        for file, expected in files.items():
            if Path(file).name != file or file.startswith(".") or file == INDEX:  # names only, never paths
                raise ArtifactError(f"{what} in the artifact store is damaged: its index lists a bad file name.")
            (folder / file).write_bytes(_fetch_one(fs, f"{base}/{file}", file, expected, what))
        try:
            os.rename(folder, target)
        except OSError:
            if not target.exists():  # else another process fetched it first: theirs is the same
                raise
    return target


def _fetch_one(fs, path: str, file: str, expected: dict, what: str) -> bytes:
    try:
        data = fs.cat_file(path)
    except FileNotFoundError:
        raise ArtifactError(f"{what} in the artifact store {store_url()} is incomplete: {file} is missing. "
                            "Delete the run or dataset, or restore the object from a backup.") from None
    except Exception as exc:
        raise ArtifactError(f"{what}: {file} could not be read from the artifact store {store_url()}: "
                            f"{_clean(exc)}") from None
    if len(data) != expected.get("bytes") or hashlib.sha256(data).hexdigest() != expected.get("sha256"):
        raise ArtifactError(f"{what} in the artifact store {store_url()} is damaged: {file} does not match the "
                            f"checksum recorded when it was saved ({len(data):,} bytes, "
                            f"{expected.get('bytes', 0):,} expected). Delete it, or restore the object from a backup.")
    return data


def delete(kind: str, name: str) -> None:
    """Delete a run's or dataset's objects (none there is fine); ArtifactError when the store refuses."""
    if not configured():
        return
    fs, root = _fs()
    base = f"{root}/{kind}/{name}"
    try:
        fs.rm(f"{base}/{INDEX}")  # first: a run without its index is no longer listed, even if the rest stays
    except FileNotFoundError:
        pass
    except Exception as exc:
        raise ArtifactError(f"{_what(kind, name)} could not be deleted from the artifact store {store_url()}: "
                            f"{_clean(exc)}") from None
    try:
        fs.rm(base, recursive=True)
    except FileNotFoundError:
        pass
    except Exception as exc:
        print(f"artifact store: leftover objects of {name}: {_clean(exc)}", file=sys.stderr)
    forget_listing()


_failed: dict[tuple, tuple[float, str]] = {}  # (url, kind, name) -> (when, message): not retried every rerun


def materialise(kind: str, parent: Path, local: set[str]) -> dict[str, str]:
    """Copy into `parent` what the store has and `local` lacks; {name: message} for what could not be copied
    (retried after the listing's TTL). The store unreachable is one entry under the name ''."""
    problems: dict[str, str] = {}
    try:
        missing = [n for n in remote_names(kind) if n not in local]
    except ArtifactError as exc:
        return {"": str(exc)}
    ttl = float(os.environ.get(TTL_ENV, "30") or 0)
    for name in missing:
        key = (store_url(), kind, name)
        failed = _failed.get(key)
        if failed and time.monotonic() - failed[0] < ttl:
            problems[name] = failed[1]
            continue
        try:
            fetch(kind, name, parent)
            _failed.pop(key, None)
        except (ArtifactError, OSError) as exc:
            message = str(exc) if isinstance(exc, ArtifactError) else f"{_what(kind, name)}: {_clean(exc)}"
            _failed[key] = (time.monotonic(), message)
            problems[name] = message
    return problems
