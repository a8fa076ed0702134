"""Bring your own data: import a .zip of class folders, an .npz, or a folder on the server as a data source.

Importing is two steps. `analyse_bytes` / `analyse_path` read and check everything in memory and return an
Analysis (the arrays plus a validation report; nothing is written). `commit` stores it as
<data dir>/datasets/<name>/manifest.json + data.npz, built in a hidden staging folder and renamed into
place, so a half-imported dataset is never visible. It is then a data source like any other
(`python -m mnist_core.train --data NAME`). Every bad input raises DatasetError (a ValueError).

    python -m mnist_core.datasets import PATH --name NAME [--test-fraction 0.2] [--seed 0] [--dry-run]
    python -m mnist_core.datasets list
    python -m mnist_core.datasets remove NAME
    (each takes --data-dir DIR; the default is $MNIST_DATA_DIR or ./data)
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.archive import (
    DEFAULT_LIMITS,
    MB,
    DatasetError,
    Limits,
    Member,
    folder_members,
    read_limited,
    zip_members,
)
from mnist_core.convert import Collected
from mnist_core.data import BUILTIN_SOURCES, default_data_dir, imported_dir, list_data_sources
from mnist_core.imagefolder import collect_images
from mnist_core.npzsource import collect_npz

__all__ = ["Analysis", "DatasetError", "Limits", "Preview", "analyse_bytes", "analyse_path", "commit",
           "list_imported", "preview", "remove_dataset", "validate_name"]

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
MAX_CLASSES = 100  # make_net's range
MANIFEST_FORMAT = 1
REPORT_SKIPPED_LINES = 20
MANIFEST_SKIPPED = 1000  # keeps manifest.json small; skipped_count has the total


@dataclass
class Analysis:
    """A dataset ready to import: all images, its train/test split, and where it came from."""

    source: dict  # kind (zip | npz | folder), file, bytes, sha256
    data: Collected
    train_index: np.ndarray  # (n_train,) int64 positions in data.images, in stored (shuffled) order
    test_index: np.ndarray
    split: dict  # kind (folders | arrays | stratified), test_fraction, seed

    @property
    def class_names(self) -> list[str]:
        return self.data.class_names

    def arrays(self) -> dict[str, np.ndarray]:
        """The four arrays of data.npz: uint8 (N, 28, 28) images and int64 (N,) labels per split."""
        d = self.data
        return {"train_images": d.images[self.train_index], "train_labels": d.labels[self.train_index],
                "test_images": d.images[self.test_index], "test_labels": d.labels[self.test_index]}

    def counts(self) -> dict[str, dict[str, int]]:
        """{"train": {class name: images}, "test": {...}}, every class listed."""
        return {split: {name: int(n) for name, n in zip(self.class_names, np.bincount(
            self.data.labels[index], minlength=len(self.class_names)), strict=True)}
            for split, index in (("train", self.train_index), ("test", self.test_index))}

    @property
    def empty_classes(self) -> list[str]:
        """Classes without images ("cat (no usable images)"), then classes missing from one split."""
        counts = self.counts()
        has_images = {c for split in counts.values() for c, n in split.items() if n}
        return self.data.empty_classes + [f"{c} (no {split} images)" for split in counts
                                          for c, n in counts[split].items() if not n and c in has_images]

    def report(self, skipped_lines: int = REPORT_SKIPPED_LINES) -> list[str]:
        """The validation report, one line per fact, then up to `skipped_lines` skipped files with reasons."""
        d, s = self.data, self.source
        how = {"folders": "the source's train/ and test/ folders", "arrays": "the source's train_/test_ arrays",
               "stratified": f"a stratified split, {self.split['test_fraction']:.0%} test, seed {self.split['seed']}"}
        size = f"{s['bytes'] / MB:,.1f} MB" if s["bytes"] >= MB else f"{s['bytes'] / 1024:.1f} KB"
        lines = [f"Source: {s['kind']} {s['file']} ({size}, sha256 {s['sha256'][:12]}…)",
                 f"Images: {len(self.train_index) + len(self.test_index):,} in {len(self.class_names)} classes: "
                 f"{len(self.train_index):,} train, {len(self.test_index):,} test, by {how[self.split['kind']]}",
                 f"Classes: {', '.join(self.class_names)}",
                 "Image sizes seen: " + ", ".join(f"{size} ({n:,})" for size, n in d.image_sizes.items()),
                 f"Inverted (dark ink on a light background, made light-on-dark like MNIST): {d.inverted:,} images"]
        if self.empty_classes:
            lines.append(f"Empty classes: {', '.join(self.empty_classes)}")
        lines.append(f"Skipped files: {len(d.skipped):,}")
        lines += [f"  {path}: {reason}" for path, reason in d.skipped[:skipped_lines]]
        if skipped_lines and len(d.skipped) > skipped_lines:
            lines.append(f"  … and {len(d.skipped) - skipped_lines:,} more")
        return lines

    def manifest(self, name: str) -> dict:
        d = self.data
        return {"format": MANIFEST_FORMAT, "name": name, "class_names": self.class_names, "counts": self.counts(),
                "source": self.source, "split": self.split, "created": dt.datetime.now().isoformat(timespec="seconds"),
                "image_sizes": d.image_sizes, "inverted": d.inverted, "empty_classes": self.empty_classes,
                "skipped_count": len(d.skipped), "skipped": [list(item) for item in d.skipped[:MANIFEST_SKIPPED]]}


@dataclass
class Preview:
    images: np.ndarray  # (n, 28, 28) uint8: the first training images, in stored order
    titles: list[str]  # their class names
    counts: dict[str, dict[str, int]]  # as Analysis.counts


def preview(analysis: Analysis, count: int = 25) -> Preview:
    """The first `count` training images (a 5x5 grid by default) with their labels, and the class counts."""
    index = analysis.train_index[:count]
    titles = [analysis.class_names[k] for k in analysis.data.labels[index]]
    return Preview(analysis.data.images[index], titles, analysis.counts())


def validate_name(name: str, data_dir: Path | str) -> str:
    """`name` if a new dataset may take it, else DatasetError saying why."""
    if not NAME_PATTERN.fullmatch(name):
        raise DatasetError(f"Dataset name {name!r} is not allowed: use 1 to 40 lowercase letters, digits, '-' "
                           "or '_', starting with a letter or digit.")
    if name in BUILTIN_SOURCES:
        raise DatasetError(f"{name!r} is a built-in data source; choose another name.")
    if (imported_dir(data_dir) / name).exists():
        raise DatasetError(f"A dataset named {name!r} already exists; remove it first or choose another name.")
    return name


def analyse_bytes(file_name: str, data: bytes, test_fraction: float = 0.2, seed: int = 0,
                  limits: Limits = DEFAULT_LIMITS) -> Analysis:
    """Analyse an uploaded .zip (class folders of images) or .npz file; nothing is written."""
    kind = Path(file_name).suffix.lower().lstrip(".")
    if kind not in ("zip", "npz"):
        raise DatasetError(f"{file_name!r}: expected a .zip of class folders or an .npz file.")
    if len(data) > limits.upload_bytes:
        raise DatasetError(f"{file_name} is {len(data) / MB:,.1f} MB; the upload limit is "
                           f"{limits.upload_bytes / MB:.0f} MB. Put the data in a folder on the server and "
                           "import the folder instead.")
    _check_split_args(test_fraction, seed)
    collected = (collect_npz(data, limits) if kind == "npz"
                 else collect_images(zip_members(data, limits, what=file_name), limits))
    source = {"kind": kind, "file": Path(file_name).name, "bytes": len(data),
              "sha256": hashlib.sha256(data).hexdigest()}
    return _split(collected, source, test_fraction, seed)


def analyse_path(path: Path | str, test_fraction: float = 0.2, seed: int = 0,
                 limits: Limits = DEFAULT_LIMITS) -> Analysis:
    """Analyse a .zip or .npz file, or a folder of class folders, on this machine; nothing is written."""
    path = Path(path).expanduser()
    if path.is_file():
        if path.stat().st_size > limits.upload_bytes:
            raise DatasetError(f"{path} is {path.stat().st_size / MB:,.1f} MB; the file limit is "
                               f"{limits.upload_bytes / MB:.0f} MB. Unpack it and import the folder instead.")
        with open(path, "rb") as stream:
            return analyse_bytes(path.name, read_limited(stream, limits.upload_bytes, str(path)), test_fraction,
                                 seed, limits)
    if not path.is_dir():
        raise DatasetError(f"{path} does not exist on this machine.")
    _check_split_args(test_fraction, seed)
    digest, total = hashlib.sha256(), [0]
    collected = collect_images(_hashed(folder_members(path, limits), digest, total), limits)
    source = {"kind": "folder", "file": str(path.resolve()), "bytes": total[0], "sha256": digest.hexdigest()}
    return _split(collected, source, test_fraction, seed)


def _hashed(members: Iterator[Member], digest, total: list[int]) -> Iterator[Member]:
    """Pass members through, folding each path and content hash into `digest` (a folder's fingerprint)."""
    for member in members:
        if member.data is not None:
            digest.update(f"{member.path}\0{hashlib.sha256(member.data).hexdigest()}\n".encode())
            total[0] += len(member.data)
        yield member


def _check_split_args(test_fraction: float, seed: int) -> None:
    if not 0 < test_fraction < 1:
        raise DatasetError(f"The test fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    if not isinstance(seed, int) or seed < 0:
        raise DatasetError(f"The seed must be an integer >= 0, got {seed!r}.")


def _split(data: Collected, source: dict, test_fraction: float, seed: int) -> Analysis:
    """Check the collected images, then split (unless the source did) and shuffle each split, seeded."""
    if len(data.labels) == 0:
        reasons = Counter(reason.split(" (")[0] for _, reason in data.skipped).most_common(3)
        why = "; ".join(f"{n} {r}" for r, n in reasons) or "no files"
        raise DatasetError(f"No usable images found in {source['file']} (skipped: {why}). Expected one folder per "
                           "class, e.g. cat/001.png, holding PNG, JPEG, BMP or TIFF images.")
    present = [data.class_names[k] for k in np.unique(data.labels)]
    if len(present) < 2:
        raise DatasetError(f"Only one class ({present[0]}) has images; a classifier needs at least two classes.")
    if len(data.class_names) > MAX_CLASSES:
        raise DatasetError(f"{len(data.class_names)} classes found; at most {MAX_CLASSES} are supported.")
    rng = np.random.default_rng(seed)
    if data.is_test is not None:
        is_test, split = data.is_test, {"kind": "arrays" if source["kind"] == "npz" else "folders"}
    else:
        is_test, split = np.zeros(len(data.labels), dtype=bool), {"kind": "stratified", "test_fraction": test_fraction}
        for k in np.unique(data.labels):  # every class with 2+ images keeps at least one in each split
            members = rng.permutation(np.flatnonzero(data.labels == k))
            n_test = min(max(round(len(members) * test_fraction), 1), len(members) - 1)
            is_test[members[:n_test]] = True
    train, test = rng.permutation(np.flatnonzero(~is_test)), rng.permutation(np.flatnonzero(is_test))
    if len(train) == 0 or len(test) == 0:
        raise DatasetError(f"The {'test' if len(test) == 0 else 'train'} split is empty; add images or change "
                           "the test fraction.")
    return Analysis(source, data, train, test, split | {"seed": seed})


def commit(analysis: Analysis, name: str, data_dir: Path | str) -> Path:
    """Store the analysed dataset as <data dir>/datasets/<name>/; it appears whole or not at all."""
    validate_name(name, data_dir)
    root = imported_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=root))  # hidden: holds no manifest.json itself
    try:
        folder = staging / name
        folder.mkdir()
        np.savez(folder / "data.npz", **analysis.arrays())
        (folder / "manifest.json").write_text(json.dumps(analysis.manifest(name), indent=2))
        validate_name(name, data_dir)  # another import may have taken the name meanwhile
        os.rename(folder, root / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root / name


def list_imported(data_dir: Path | str) -> list[dict]:
    """The manifest of every imported dataset, by name; an unreadable one gets an `error` entry instead."""
    rows = []
    for name in (n for n in list_data_sources(data_dir) if n not in BUILTIN_SOURCES):
        try:
            rows.append(json.loads((imported_dir(data_dir) / name / "manifest.json").read_text()))
        except (OSError, ValueError) as exc:
            rows.append({"name": name, "error": f"unreadable manifest ({exc})"})
    return rows


def remove_dataset(name: str, data_dir: Path | str) -> None:
    """Delete an imported dataset; it disappears at once (renamed away, then deleted)."""
    folder = imported_dir(data_dir) / name
    if not NAME_PATTERN.fullmatch(name) or name in BUILTIN_SOURCES or not (folder / "manifest.json").is_file():
        raise DatasetError(f"No imported dataset named {name!r} in {imported_dir(data_dir)}.")
    trash = Path(tempfile.mkdtemp(prefix=".remove-", dir=folder.parent))
    os.rename(folder, trash / name)
    shutil.rmtree(trash)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=str(default_data_dir()), help="default: $MNIST_DATA_DIR or ./data")
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
            for row in list_imported(args.data_dir):
                counts = row.get("counts", {})
                print(f"{row['name']}: " + (row.get("error") or f"{len(row['class_names'])} classes, "
                      f"{sum(counts['train'].values()):,} train, {sum(counts['test'].values()):,} test, "
                      f"from {row['source']['file']}"))
        elif args.command == "remove":
            remove_dataset(args.name, args.data_dir)
            print(f"removed {args.name}")
        else:
            validate_name(args.name, args.data_dir)  # before reading what may be gigabytes
            analysis = analyse_path(args.path, args.test_fraction, args.seed)
            print("\n".join(analysis.report()))
            if args.dry_run:
                print("dry run: nothing was written")
                return 0
            folder = commit(analysis, args.name, args.data_dir)
            print(f"imported {args.name!r} into {folder}\ntrain on it: python -m mnist_core.train --data {args.name}")
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: could not write to {args.data_dir}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
