"""What an import would store, before anything is written: the Analysis (all images, the train/test split,
the source's fingerprint) with its validation report and manifest, the 5x5 preview, and the seeded,
stratified split that makes one. Built by mnist_core.own_data.datasets from a source's collected images.

    python -c "from mnist_core.own_data.datasets import analyse_path as a; print(*a('my_images').report(), sep='\\n')"
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np

from mnist_core.data import DataError
from mnist_core.own_data.archive import MB, UNPRINTABLE, printable
from mnist_core.own_data.convert import Collected

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
        if d.cross_class_duplicates:
            lines.append(f"Dropped as byte-identical copies of an image in another class: {_per_class(d)}")
        lines.append(f"Skipped files: {len(d.skipped):,}")
        lines += [f"  {path}: {reason}" for path, reason in d.skipped[:skipped_lines]]
        if skipped_lines and len(d.skipped) > skipped_lines:
            lines.append(f"  … and {len(d.skipped) - skipped_lines:,} more")
        return [printable(line) for line in lines]  # names come from the source: no ANSI codes or forged lines

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


def _per_class(d: Collected) -> str:
    return ", ".join(f"{n:,} from {name}" for name, n in d.cross_class_duplicates.items())


def normalise_class_names(names: list[str]) -> list[str]:
    """Class names in Unicode NFC; DataError for a name with control characters, and for two names that
    look alike (equal once accents are stripped and case folded: "0" and "0" plus a combining accent, "Cat"
    and "cat"), which would be two classes nobody can tell apart."""
    normal = [unicodedata.normalize("NFC", name) for name in names]
    for name in normal:
        if any(unicodedata.category(c) in UNPRINTABLE for c in name):
            raise DataError(f"Class name {printable(name)!r} contains control characters; rename it.")
    seen: dict[str, str] = {}
    for name in normal:
        key = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()
        if key in seen:
            raise DataError(f"Class names {printable(seen[key])!r} and {printable(name)!r} look alike (they differ "
                            "only in accents, case or Unicode form); rename or merge one of them.")
        seen[key] = name
    return normal


def check_split_args(test_fraction: float, seed: int) -> None:
    if not 0 < test_fraction < 1:
        raise DataError(f"The test fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    if not isinstance(seed, int) or seed < 0:
        raise DataError(f"The seed must be an integer >= 0, got {seed!r}.")


def split_collected(data: Collected, source: dict, test_fraction: float, seed: int) -> Analysis:
    """Check the collected images, then split (unless the source did) and shuffle each split, seeded."""
    if len(data.labels) == 0:
        reasons = Counter(reason.split(" (")[0] for _, reason in data.skipped).most_common(3)
        why = "; ".join(f"{n} {r}" for r, n in reasons) or "no files"
        raise DataError(printable(f"No usable images found in {source['file']} (skipped: {why}). Expected one "
                                  "folder per class, e.g. cat/001.png, holding PNG, JPEG, BMP or TIFF images."))
    data.class_names = normalise_class_names(data.class_names)
    present = [data.class_names[k] for k in np.unique(data.labels)]
    if len(present) < 2:
        dropped = (f" {sum(data.cross_class_duplicates.values()):,} files were dropped as byte-identical copies of "
                   f"images in another class ({_per_class(data)}); a file may be in one class only."
                   if data.cross_class_duplicates else "")
        raise DataError(printable(f"Only one class ({present[0]}) has images; a classifier needs at least two "
                                  f"classes.{dropped}"))
    if len(data.class_names) > MAX_CLASSES:
        raise DataError(f"{len(data.class_names)} classes found; at most {MAX_CLASSES} are supported.")
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
        raise DataError(f"The {'test' if len(test) == 0 else 'train'} split is empty; add images or change "
                        "the test fraction.")
    return Analysis(source, data, train, test, split | {"seed": seed})
