"""Bring your own data: import a .zip of class folders, an .npz, or a folder on the server as a data source.

Importing is two steps. `analyse_bytes` / `analyse_path` read and check everything in memory and return an
Analysis (the arrays plus a validation report; nothing is written). `commit` stores it as
<<<<<<< HEAD:mnist_core/datasets.py
<datasets dir>/<name>/manifest.json + data.npz, built in a hidden staging folder and renamed into
place, so a half-imported dataset is never visible. The datasets dir is $MNIST_DATASETS_DIR, else
`datasets/` beside the runs dir; datasets under the old `<data dir>/datasets/` are still listed and loaded.
It is then a data source like any other
(`python -m mnist_core.train --data NAME`). Every bad input raises DatasetError (a ValueError).

    python -m mnist_core.datasets import PATH --name NAME [--test-fraction 0.2] [--seed 0] [--dry-run]
    python -m mnist_core.datasets list
    python -m mnist_core.datasets remove NAME
    (each takes --datasets-dir DIR, and --data-dir DIR for datasets imported before the datasets dir existed)
=======
<data dir>/datasets/<name>/manifest.json + data.npz, built in a hidden staging folder and renamed into
place, so a half-imported dataset is never visible. It is then a data source like any other
(`python -m mnist_core.train --data NAME`). Every bad input raises mnist_core.data.DataError.
The command line is mnist_core/own_data/__main__.py: `python -m mnist_core.own_data --help`.
>>>>>>> layout:mnist_core/own_data/datasets.py
"""
from __future__ import annotations

import hashlib
import json
import os
<<<<<<< HEAD:mnist_core/datasets.py
import shutil
import stat
import sys
import tempfile
=======
import re
>>>>>>> layout:mnist_core/own_data/datasets.py
from collections.abc import Iterator
from pathlib import Path

import numpy as np

<<<<<<< HEAD:mnist_core/datasets.py
from mnist_core.analysis import Analysis, Preview, check_split_args, preview, split_collected
from mnist_core.archive import (
=======
from mnist_core.data import BUILTIN_SOURCES, DataError, imported_dir, list_data_sources
from mnist_core.files import staging_dir
from mnist_core.own_data.analysis import Analysis, Preview, check_split_args, preview, split_collected
from mnist_core.own_data.archive import (
    DEFAULT_LIMITS,
>>>>>>> layout:mnist_core/own_data/datasets.py
    MB,
    Limits,
    Member,
    folder_members,
    printable,
    read_limited,
    zip_members,
)
<<<<<<< HEAD:mnist_core/datasets.py
from mnist_core.config import DATA_NAME_PATTERN
from mnist_core.convert import looks_like_image
from mnist_core.data import (
    BUILTIN_SOURCES,
    default_data_dir,
    default_datasets_dir,
    find_imported,
    list_data_sources,
)
from mnist_core.imagefolder import collect_images
from mnist_core.npzsource import collect_npz

__all__ = ["Analysis", "DatasetError", "Limits", "Preview", "analyse_bytes", "analyse_path", "commit",
           "import_roots", "list_imported", "preview", "remove_dataset", "validate_name"]
=======
from mnist_core.own_data.imagefolder import collect_images
from mnist_core.own_data.npzsource import collect_npz

__all__ = ["Analysis", "Limits", "Preview", "analyse_bytes", "analyse_path", "commit",
           "list_imported", "preview", "remove_dataset", "validate_name"]
>>>>>>> layout:mnist_core/own_data/datasets.py

NAME_PATTERN = DATA_NAME_PATTERN  # one rule for every data source name (mnist_core.config)


<<<<<<< HEAD:mnist_core/datasets.py
def validate_name(name: str, datasets_dir: Path | str | None = None, data_dir: Path | str | None = None) -> str:
    """`name` if a new dataset may take it (in the datasets dir, or the data dir's old location), else
    DatasetError saying why."""
=======
def validate_name(name: str, data_dir: Path | str) -> str:
    """`name` if a new dataset may take it, else DataError saying why."""
>>>>>>> layout:mnist_core/own_data/datasets.py
    if not NAME_PATTERN.fullmatch(name):
        raise DataError(f"Dataset name {name!r} is not allowed: use 1 to 40 lowercase letters, digits, '-' "
                           "or '_', starting with a letter or digit.")
    if name in BUILTIN_SOURCES:
<<<<<<< HEAD:mnist_core/datasets.py
        raise DatasetError(f"{name!r} is a built-in data source; choose another name.")
    root = Path(datasets_dir) if datasets_dir is not None else default_datasets_dir()
    if (root / name).exists() or find_imported(name, data_dir, root) is not None:
        raise DatasetError(f"A dataset named {name!r} already exists; remove it first or choose another name.")
=======
        raise DataError(f"{name!r} is a built-in data source; choose another name.")
    if (imported_dir(data_dir) / name).exists():
        raise DataError(f"A dataset named {name!r} already exists; remove it first or choose another name.")
>>>>>>> layout:mnist_core/own_data/datasets.py
    return name


def import_roots(environ=os.environ) -> list[Path]:
    """The folders the dashboard may import from: MNIST_IMPORT_ROOTS (os.pathsep-separated), resolved.
    Empty (the default) turns server-folder import off in the dashboard; the CLI takes any path."""
    return [Path(p).expanduser().resolve() for p in environ.get("MNIST_IMPORT_ROOTS", "").split(os.pathsep)
            if p.strip()]


def inside_root(root: Path, relative: str) -> tuple[Path, str]:
    """(resolved path, name to show) of `relative` inside `root`; DatasetError when it is absolute or
    leads out of the root, by `..` or by a symbolic link anywhere on the way."""
    shown = printable(f"{root.name}/{relative.strip().strip('/')}".rstrip("/"))
    if Path(relative).is_absolute() or relative.startswith("~") or "\x00" in relative:
        raise DatasetError(f"{printable(relative)!r}: give a path relative to the chosen folder, not an absolute one.")
    target = (root / relative.strip()).resolve()
    if not target.is_relative_to(root):
        raise DatasetError(f"{shown} leads outside the folders this server allows imports from.")
    return target, shown


def analyse_bytes(file_name: str, data: bytes, test_fraction: float = 0.2, seed: int = 0,
                  limits: Limits | None = None) -> Analysis:
    """Analyse an uploaded .zip (class folders of images) or .npz file; nothing is written."""
    limits = limits or Limits.from_env()
    kind = Path(file_name).suffix.lower().lstrip(".")
    if kind not in ("zip", "npz"):
<<<<<<< HEAD:mnist_core/datasets.py
        raise DatasetError(f"{printable(file_name)!r}: expected a .zip of class folders or an .npz file.")
    if len(data) > limits.upload_bytes:
        raise DatasetError(f"{printable(file_name)} is {len(data) / MB:,.1f} MB; the upload limit is "
=======
        raise DataError(f"{file_name!r}: expected a .zip of class folders or an .npz file.")
    if len(data) > limits.upload_bytes:
        raise DataError(f"{file_name} is {len(data) / MB:,.1f} MB; the upload limit is "
>>>>>>> layout:mnist_core/own_data/datasets.py
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
<<<<<<< HEAD:mnist_core/datasets.py
        mode = os.lstat(path.resolve()).st_mode  # never opened unless a regular file or a folder
        if stat.S_ISREG(mode):
            if os.path.getsize(path) > limits.upload_bytes:
                raise DatasetError(f"{shown} is {os.path.getsize(path) / MB:,.1f} MB; the file limit is "
=======
        if path.is_file():
            if path.stat().st_size > limits.upload_bytes:
                raise DataError(f"{path} is {path.stat().st_size / MB:,.1f} MB; the file limit is "
>>>>>>> layout:mnist_core/own_data/datasets.py
                                   f"{limits.upload_bytes / MB:.0f} MB. Unpack it and import the folder instead.")
            with open(path, "rb") as stream:
                data = read_limited(stream, limits.upload_bytes, shown)
            return analyse_bytes(path.name, data, test_fraction, seed, limits)
    except FileNotFoundError:
        raise DatasetError(f"{shown} does not exist on this machine.") from None
    except OSError as exc:  # e.g. a folder on the way that this server may not enter
<<<<<<< HEAD:mnist_core/datasets.py
        raise DatasetError(f"{shown} cannot be read on this machine ({exc.strerror or exc}).") from exc
    if not stat.S_ISDIR(mode):
        raise DatasetError(f"{shown} is neither a regular file nor a folder (a device, pipe or socket); "
                           "nothing was read.")
=======
        raise DataError(f"{path} cannot be read on this machine ({exc.strerror or exc}).") from exc
    if not is_dir:
        raise DataError(f"{path} does not exist on this machine.")
>>>>>>> layout:mnist_core/own_data/datasets.py
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


<<<<<<< HEAD:mnist_core/datasets.py
def commit(analysis: Analysis, name: str, datasets_dir: Path | str | None = None,
           data_dir: Path | str | None = None) -> Path:
    """Store the analysed dataset as <datasets dir>/<name>/; it appears whole or not at all."""
    root = Path(datasets_dir) if datasets_dir is not None else default_datasets_dir()
    validate_name(name, root, data_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=root))  # hidden: holds no manifest.json itself
    try:
=======
def commit(analysis: Analysis, name: str, data_dir: Path | str) -> Path:
    """Store the analysed dataset as <data dir>/datasets/<name>/; it appears whole or not at all."""
    validate_name(name, data_dir)
    root = imported_dir(data_dir)
    with staging_dir(root, ".import-") as staging:  # hidden: holds no manifest.json itself
>>>>>>> layout:mnist_core/own_data/datasets.py
        folder = staging / name
        folder.mkdir()
        np.savez(folder / "data.npz", **analysis.arrays())
        (folder / "manifest.json").write_text(json.dumps(analysis.manifest(name), indent=2))
        validate_name(name, root, data_dir)  # another import may have taken the name meanwhile
        os.rename(folder, root / name)
    return root / name


def list_imported(datasets_dir: Path | str | None = None, data_dir: Path | str | None = None) -> list[dict]:
    """The manifest of every imported dataset, by name; an unreadable one gets an `error` entry instead."""
    rows = []
    for name in (n for n in list_data_sources(data_dir, datasets_dir) if n not in BUILTIN_SOURCES):
        try:
            rows.append(json.loads((find_imported(name, data_dir, datasets_dir) / "manifest.json").read_text()))
        except (OSError, ValueError) as exc:
            rows.append({"name": name, "error": f"unreadable manifest ({exc})"})
    return rows


def remove_dataset(name: str, datasets_dir: Path | str | None = None, data_dir: Path | str | None = None) -> None:
    """Delete an imported dataset; it disappears at once (renamed away, then deleted)."""
<<<<<<< HEAD:mnist_core/datasets.py
    folder = find_imported(name, data_dir, datasets_dir) if NAME_PATTERN.fullmatch(name) else None
    if folder is None:
        raise DatasetError(f"No imported dataset named {name!r}.")
    trash = Path(tempfile.mkdtemp(prefix=".remove-", dir=folder.parent))
    os.rename(folder, trash / name)
    shutil.rmtree(trash)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--datasets-dir", default=str(default_datasets_dir()),
                        help="where imported datasets live; default: $MNIST_DATASETS_DIR, else datasets/ beside "
                             "the runs dir")
    common.add_argument("--data-dir", default=str(default_data_dir()),
                        help="also list datasets from <data dir>/datasets (their old place); default: "
                             "$MNIST_DATA_DIR or ./data")
    p = argparse.ArgumentParser(prog="python -m mnist_core.datasets", description="Import your own datasets.")
    sub = p.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", parents=[common], help="import a .zip, an .npz or a folder of class folders")
    imp.add_argument("path")
    imp.add_argument("--name", required=True, help="the new data source's name, e.g. my-digits")
    imp.add_argument("--test-fraction", type=float, default=0.2, help="share of each class held out for testing")
    imp.add_argument("--seed", type=int, default=0, help="seed of the split and of the stored order")
    imp.add_argument("--dry-run", action="store_true", help="print the validation report, write nothing")
    sub.add_parser("list", parents=[common], help="list imported datasets")
    rm = sub.add_parser("remove", parents=[common], help="delete an imported dataset")
    rm.add_argument("name")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "list":
            for row in list_imported(args.datasets_dir, args.data_dir):
                counts = row.get("counts", {})
                print(printable(f"{row['name']}: " + (row.get("error") or f"{len(row['class_names'])} classes, "
                      f"{sum(counts['train'].values()):,} train, {sum(counts['test'].values()):,} test, "
                      f"from {row['source']['file']}")))
        elif args.command == "remove":
            remove_dataset(args.name, args.datasets_dir, args.data_dir)
            print(f"removed {args.name}")
        else:
            validate_name(args.name, args.datasets_dir, args.data_dir)  # before reading what may be gigabytes
            analysis = analyse_path(args.path, args.test_fraction, args.seed)
            print("\n".join(analysis.report()))
            if args.dry_run:
                print("dry run: nothing was written")
                return 0
            folder = commit(analysis, args.name, args.datasets_dir, args.data_dir)
            print(f"imported {args.name!r} into {folder}\ntrain on it: python -m mnist_core.train --data {args.name}")
    except DatasetError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: could not write to {args.datasets_dir}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
=======
    folder = imported_dir(data_dir) / name
    if not NAME_PATTERN.fullmatch(name) or name in BUILTIN_SOURCES or not (folder / "manifest.json").is_file():
        raise DataError(f"No imported dataset named {name!r} in {imported_dir(data_dir)}.")
    with staging_dir(folder.parent, ".remove-") as trash:
        os.rename(folder, trash / name)
>>>>>>> layout:mnist_core/own_data/datasets.py
