"""Corrected-labels files: retrain with the labels a review found wrong.

Format: a CSV file with the header `dataset,split,index,label` and one row per corrected image:

    dataset,split,index,label
    mnist,test,247,2
    mnist,train,59915,7

`dataset` is the data source the indices refer to (every row must name the dataset being trained),
`split` is `test` or `train`, `index` the image's position in that split, `label` the corrected class index.
Each (split, index) appears at most once. A file with the older header `dataset,index,label` (made before the
training images could be reviewed) is read as test rows. Train rows correct the training labels a run trains
on; test rows the labels it is scored on. Write one with `python -m mnist_core.review corrections`; train with

    python -m mnist_core.train --data mnist --label-corrections corrections.csv

The dashboard never takes a path (its visitors are untrusted): the Train page takes an upload, parsed in memory
(parse_corrections), checked against the dataset (check_corrections) and kept, re-written, under
<runs dir>/corrections/ (store_corrections), where the run's config names it; it lists the kept files of the
chosen dataset (stored_corrections) to train with again. Messages name a line and a field, never a cell.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import os
import stat
from pathlib import Path

from mnist_core.config import is_data_name
from mnist_core.data import Dataset
from mnist_core.files import write_bytes_atomic

HEADER = ["dataset", "split", "index", "label"]
OLD_HEADER = ["dataset", "index", "label"]  # before train rows: every row is a test row
SPLITS = ("train", "test")
MAX_BYTES = 4 * 2**20  # a row for every one of MNIST's 70,000 images is about 1.5 MB
STORE = "corrections"  # <runs dir>/corrections/<dataset>-<sha256 prefix>.csv: the dashboard's files


class CorrectionsError(ValueError):
    """A corrected-labels file is missing, malformed, or does not fit the dataset; the message says where.

    Messages never quote the file's contents: a path typed by someone else could name any file on the server.
    """


@dataclasses.dataclass
class Corrections:
    data: str | None  # the data source the file corrects (its `dataset` column); None for a file with no rows
    labels: dict[tuple[str, int], int]  # (split, index) -> corrected label


def read_corrections(path: Path | str) -> Corrections:
    """Parse and check a corrections file on its own (format, one dataset, no duplicates)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # /dev/zero or a pipe would never end
                raise CorrectionsError(f"Corrected-labels file {path} is not a regular file.")
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError as exc:
        raise CorrectionsError(f"Corrected-labels file {path} does not exist.") from exc
    except OSError as exc:
        raise CorrectionsError(f"Corrected-labels file {path} is unreadable ({type(exc).__name__}).") from exc
    return parse_corrections(data, str(path))


def parse_corrections(data: bytes, where: str = "The corrections file") -> Corrections:
    """Parse a corrections file's bytes; `where` names it in messages (a path, or 'the uploaded file')."""
    if len(data) > MAX_BYTES:
        raise CorrectionsError(f"{where} is over {MAX_BYTES // 2**20} MB, the limit for a corrections file.")
    try:
        text = data.decode("utf-8-sig")  # -sig: spreadsheets often save a BOM
    except UnicodeDecodeError as exc:
        raise CorrectionsError(f"{where} is not UTF-8 text (a CSV file).") from exc
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise CorrectionsError(f"{where}, line {reader.line_num}: not valid CSV.") from exc
    header = [h.strip() for h in rows[0]] if rows else []
    if header == OLD_HEADER:
        rows = [rows[0]] + [[*row[:1], "test", *row[1:]] if any(c.strip() for c in row) else row
                            for row in rows[1:]]
    elif header != HEADER:
        raise CorrectionsError(f"{where}: line 1 must be the header {','.join(HEADER)!r}; it is not, so this is not "
                               "a corrections file (export one from the Review page).")
    source, labels, seen = None, {}, {}
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            expected = OLD_HEADER if header == OLD_HEADER else HEADER
            raise CorrectionsError(f"{where}, line {line_no}: expected {len(expected)} fields "
                                   f"({','.join(expected)}), got {len(row) - (expected is OLD_HEADER)}.")
        name, split, index, label = (cell.strip() for cell in row)
        if not is_data_name(name) or source not in (None, name):
            raise CorrectionsError(f"{where}, line {line_no}: the dataset is not a data source name, or differs "
                                   "from the lines before; one file corrects one dataset.")
        source = name
        if split not in SPLITS:
            raise CorrectionsError(f"{where}, line {line_no}: split must be 'test' or 'train'.")
        key = (split, _parse_int(index, "index", where, line_no))
        if key in seen:
            raise CorrectionsError(f"{where}, line {line_no}: {split} image {key[1]} is already corrected on "
                                   f"line {seen[key]}.")
        seen[key] = line_no
        labels[key] = _parse_int(label, "label", where, line_no)
    return Corrections(source, labels)


def _parse_int(text: str, field: str, where: str, line_no: int) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise CorrectionsError(f"{where}, line {line_no}: {field} must be an integer >= 0.")
    return int(text)


def check_corrections(corrections: Corrections, dataset: Dataset, where: str) -> None:
    """Raise CorrectionsError unless every row names `dataset`, an image it has and a class it has."""
    if corrections.data is not None and corrections.data != dataset.name:
        raise CorrectionsError(f"{where} corrects another dataset than the training data, {dataset.name!r}.")
    sizes = {"train": len(dataset.train_labels), "test": len(dataset.test_labels)}
    for (split, index), label in corrections.labels.items():
        if index >= sizes[split]:
            raise CorrectionsError(f"{where}: {split} index {index} is out of range: {dataset.name!r} has "
                                   f"{sizes[split]} {split} images.")
        if label >= dataset.num_classes:
            raise CorrectionsError(f"{where}: label {label} for {split} image {index} is out of range: "
                                   f"{dataset.name!r} has classes 0..{dataset.num_classes - 1}.")


def apply_label_corrections(dataset: Dataset, path: Path | str) -> Dataset:
    """A copy of `dataset` whose listed labels are replaced; the images (and the original) are untouched."""
    corrections = read_corrections(path)
    check_corrections(corrections, dataset, str(path))
    labels = {"train": dataset.train_labels.clone(), "test": dataset.test_labels.clone()}
    for (split, index), label in corrections.labels.items():
        labels[split][index] = label
    return dataclasses.replace(dataset, train_labels=labels["train"], test_labels=labels["test"])


def format_corrections(data: str, labels: dict[tuple[str, int], int]) -> str:
    """The CSV text of a corrections file, rows sorted by split then index."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for (split, index), label in sorted(labels.items()):
        writer.writerow([data, split, index, label])
    return out.getvalue()


def write_corrections(path: Path | str, data: str, labels: dict[tuple[str, int], int]) -> None:
    write_bytes_atomic(Path(path), format_corrections(data, labels).encode())


@dataclasses.dataclass
class StoredCorrections:
    """A corrections file the dashboard keeps: runs trained with it name its path in their config."""

    path: Path
    data: str
    count: int
    added: str

    @property
    def label(self) -> str:
        return f"{self.count:,} corrected labels, added {self.added} ({self.path.stem.rsplit('-', 1)[1]})"


def store_corrections(runs_dir: Path | str, corrections: Corrections) -> Path:
    """Keep checked corrections under <runs dir>/corrections/, re-written from the parsed rows (never the bytes
    as uploaded), named by their content: a run's config can name the file, and the file never changes."""
    if corrections.data is None:
        raise CorrectionsError("The corrections file has no rows: there is nothing to correct.")
    text = format_corrections(corrections.data, corrections.labels).encode()
    path = Path(runs_dir) / STORE / f"{corrections.data}-{hashlib.sha256(text).hexdigest()[:12]}.csv"
    if not path.is_file():
        write_bytes_atomic(path, text)
    return path


def stored_corrections(runs_dir: Path | str, data: str) -> list[StoredCorrections]:
    """The kept corrections files of one dataset, newest first; unreadable ones are left out."""
    folder, found = Path(runs_dir) / STORE, []
    for path in folder.glob(f"{data}-*.csv") if is_data_name(data) and folder.is_dir() else []:
        try:
            parsed, mtime = read_corrections(path), path.stat().st_mtime
        except (CorrectionsError, OSError):
            continue
        if parsed.data == data:
            added = dt.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M")
            found.append((mtime, StoredCorrections(path, data, len(parsed.labels), added)))
    return [s for _, s in sorted(found, key=lambda pair: pair[0], reverse=True)]
