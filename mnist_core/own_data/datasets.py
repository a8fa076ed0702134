"""Bring your own data: import a .zip of class folders, an .npz, or a folder on the server as a data source.

Importing is two steps. `analyse_bytes` / `analyse_path` read and check everything in memory and return an
Analysis (the arrays plus a validation report; nothing is written). `commit` stores it as
<datasets dir>/<name>/manifest.json + data.npz, built in a hidden staging folder and renamed into
place, so a half-imported dataset is never visible. The datasets dir is $MNIST_DATASETS_DIR, else
`datasets/` beside the runs dir; datasets under the old `<data dir>/datasets/` are still listed and loaded.
It is then a data source like any other (`python -m mnist_core.train --data NAME`). Every bad input raises
mnist_core.data.DataError. The command line (import, list, remove) is mnist_core/own_data/__main__.py:
`python -m mnist_core.own_data --help`.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mnist_core import artifacts, quotas
from mnist_core.config import DATA_NAME_PATTERN
from mnist_core.data import (
    BUILTIN_SOURCES,
    DataError,
    default_datasets_dir,
    find_imported,
    list_data_sources,
    sync_imported,
)
from mnist_core.files import staging_dir
from mnist_core.own_data.analysis import Analysis, Preview, check_split_args, preview, split_collected
from mnist_core.own_data.archive import (
    MB,
    Limits,
    Member,
    folder_members,
    printable,
    read_limited,
    zip_members,
)
from mnist_core.own_data.convert import looks_like_image
from mnist_core.own_data.imagefolder import collect_images
from mnist_core.own_data.npzsource import collect_npz
from mnist_core.runs import folder_lock

__all__ = ["Analysis", "Limits", "Preview", "analyse_bytes", "analyse_path", "commit", "import_roots",
           "list_imported", "preview", "remove_dataset", "validate_name"]

NAME_PATTERN = DATA_NAME_PATTERN  # one rule for every data source name (mnist_core.config)


def validate_name(name: str, datasets_dir: Path | str | None = None, data_dir: Path | str | None = None) -> str:
    """`name` if a new dataset may take it (in the datasets dir, or the data dir's old location), else
    DataError saying why."""
    if not NAME_PATTERN.fullmatch(name):
        raise DataError(f"Dataset name {name!r} is not allowed: use 1 to 40 lowercase letters, digits, '-' "
                        "or '_', starting with a letter or digit.")
    if name in BUILTIN_SOURCES:
        raise DataError(f"{name!r} is a built-in data source; choose another name.")
    root = Path(datasets_dir) if datasets_dir is not None else default_datasets_dir()
    if (root / name).exists() or find_imported(name, data_dir, root) is not None:
        raise DataError(f"A dataset named {name!r} already exists; remove it first or choose another name.")
    return name


def import_roots(environ=os.environ) -> list[Path]:
    """The folders the dashboard may import from: MNIST_IMPORT_ROOTS (os.pathsep-separated), resolved.
    Empty (the default) turns server-folder import off in the dashboard; the CLI takes any path."""
    return [Path(p).expanduser().resolve() for p in environ.get("MNIST_IMPORT_ROOTS", "").split(os.pathsep)
            if p.strip()]


def inside_root(root: Path, relative: str) -> tuple[Path, str]:
    """(resolved path, name to show) of `relative` inside `root`; DataError when it is absolute or
    leads out of the root, by `..` or by a symbolic link anywhere on the way."""
    shown = printable(f"{root.name}/{relative.strip().strip('/')}".rstrip("/"))
    if Path(relative).is_absolute() or relative.startswith("~") or "\x00" in relative:
        raise DataError(f"{printable(relative)!r}: give a path relative to the chosen folder, not an absolute one.")
    target = (root / relative.strip()).resolve()
    if not target.is_relative_to(root):
        raise DataError(f"{shown} leads outside the folders this server allows imports from.")
    return target, shown


def analyse_bytes(file_name: str, data: bytes, test_fraction: float = 0.2, seed: int = 0,
                  limits: Limits | None = None) -> Analysis:
    """Analyse an uploaded .zip (class folders of images) or .npz file; nothing is written."""
    limits = limits or Limits.from_env()
    kind = Path(file_name).suffix.lower().lstrip(".")
    if kind not in ("zip", "npz"):
        raise DataError(f"{printable(file_name)!r}: expected a .zip of class folders or an .npz file.")
    if len(data) > limits.upload_bytes:
        raise DataError(f"{printable(file_name)} is {len(data) / MB:,.1f} MB; the upload limit is "
                        f"{limits.upload_bytes / MB:.0f} MB. Put the data in a folder on the server and "
                        "import the folder instead.")
    check_split_args(test_fraction, seed)
    collected = (collect_npz(data, limits) if kind == "npz"
                 else collect_images(zip_members(data, limits, printable(file_name), looks_like_image), limits))
    source = {"kind": kind, "file": Path(file_name).name, "bytes": len(data),
              "sha256": hashlib.sha256(data).hexdigest()}
    return split_collected(collected, source, test_fraction, seed)


def analyse_path(path: Path | str, test_fraction: float = 0.2, seed: int = 0, limits: Limits | None = None,
                 root: Path | None = None) -> Analysis:
    """Analyse a .zip or .npz file, or a folder of class folders, on this machine; nothing is written.

    With `root` (the dashboard: one of import_roots()), `path` is relative to it and must stay inside it,
    and messages and the manifest name it relative to the root only. Without (the CLI), any path.
    """
    limits = limits or Limits.from_env()
    if root is not None:
        path, shown = inside_root(root, str(path))
    else:
        path = Path(path).expanduser()
        shown = printable(str(path))
    try:
        mode = os.lstat(path.resolve()).st_mode  # never opened unless a regular file or a folder
        if stat.S_ISREG(mode):
            if os.path.getsize(path) > limits.upload_bytes:
                raise DataError(f"{shown} is {os.path.getsize(path) / MB:,.1f} MB; the file limit is "
                                f"{limits.upload_bytes / MB:.0f} MB. Unpack it and import the folder instead.")
            with open(path, "rb") as stream:
                data = read_limited(stream, limits.upload_bytes, shown)
            return analyse_bytes(path.name, data, test_fraction, seed, limits)
    except FileNotFoundError:
        raise DataError(f"{shown} does not exist on this machine.") from None
    except OSError as exc:  # e.g. a folder on the way that this server may not enter
        raise DataError(f"{shown} cannot be read on this machine ({exc.strerror or exc}).") from exc
    if not stat.S_ISDIR(mode):
        raise DataError(f"{shown} is neither a regular file nor a folder (a device, pipe or socket); "
                        "nothing was read.")
    check_split_args(test_fraction, seed)
    source = {"kind": "folder", "file": shown if root is not None else str(path.resolve()), "bytes": 0}
    digest = hashlib.sha256()
    members = folder_members(path, limits, looks_like_image, shown)
    collected = collect_images(_fingerprinted(members, digest, source), limits)
    return split_collected(collected, source | {"sha256": digest.hexdigest()}, test_fraction, seed)


def _fingerprinted(members: Iterator[Member], digest, source: dict) -> Iterator[Member]:
    """Pass members through, folding each path and content hash into `digest` and sizes into source["bytes"]."""
    for member in members:
        if member.data is not None:
            digest.update(f"{member.path}\0{hashlib.sha256(member.data).hexdigest()}\n".encode())
            source["bytes"] += len(member.data)
        yield member


def commit(analysis: Analysis, name: str, datasets_dir: Path | str | None = None,
           data_dir: Path | str | None = None, imported_by: str = "") -> Path:
    """Store the analysed dataset as <datasets dir>/<name>/; it appears whole or not at all.

    With `imported_by` (the dashboard's login) the manifest records it, and quotas.QuotaError is raised, before
    anything is written, when that identity has imported MNIST_MAX_DATASETS_PER_USER datasets already."""
    root = Path(datasets_dir) if datasets_dir is not None else default_datasets_dir()
    validate_name(name, root, data_dir)
    manifest = analysis.manifest(name) | ({"imported_by": imported_by} if imported_by else {})
    root.mkdir(parents=True, exist_ok=True)
    with folder_lock(root):  # two imports by one person at once: the second counts the first
        if imported_by:
            quotas.check_datasets(root, imported_by)
        with staging_dir(root, ".import-") as staging:  # hidden: holds no manifest.json itself
            folder = staging / name
            folder.mkdir()
            np.savez(folder / "data.npz", **analysis.arrays())
            (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
            validate_name(name, root, data_dir)  # another import may have taken the name meanwhile
            os.rename(folder, root / name)
    artifacts.push_quietly("datasets", root / name)  # imports outlive this disk (MNIST_ARTIFACTS)
    return root / name


def list_imported(datasets_dir: Path | str | None = None, data_dir: Path | str | None = None) -> list[dict]:
    """The manifest of every imported dataset, by name; an unreadable one gets an `error` entry instead."""
    rows = [{"name": name, "error": problem}  # only in the artifact store, and it cannot be copied here
            for name, problem in sync_imported(data_dir, datasets_dir).items() if name]
    for name in (n for n in list_data_sources(data_dir, datasets_dir) if n not in BUILTIN_SOURCES):
        try:
            rows.append(json.loads((find_imported(name, data_dir, datasets_dir) / "manifest.json").read_text()))
        except (OSError, ValueError) as exc:
            rows.append({"name": name, "error": f"unreadable manifest ({exc})"})
    return sorted(rows, key=lambda row: str(row.get("name")))


def remove_dataset(name: str, datasets_dir: Path | str | None = None, data_dir: Path | str | None = None) -> None:
    """Delete an imported dataset, and its objects in the artifact store; it disappears at once (renamed away,
    then deleted)."""
    valid = NAME_PATTERN.fullmatch(name) and name not in BUILTIN_SOURCES
    try:
        in_store = bool(valid) and name in artifacts.remote_names("datasets")
        folder = find_imported(name, data_dir, datasets_dir) if valid else None
    except DataError:  # only in the store, and damaged there: deleting it is the way out
        folder = None
    except artifacts.ArtifactError as exc:
        raise DataError(str(exc)) from None
    if folder is None and not in_store:
        raise DataError(f"No imported dataset named {name!r}.")
    try:
        artifacts.delete("datasets", name)  # first: a dataset deleted here but kept there would come back
    except artifacts.ArtifactError as exc:
        raise DataError(str(exc)) from None
    if folder is None:
        return
    with staging_dir(folder.parent, ".remove-") as trash:
        os.rename(folder, trash / name)
