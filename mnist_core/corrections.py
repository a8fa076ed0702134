"""Corrected-labels files: retrain with the labels a review found wrong.

Format: a CSV file with the header `dataset,split,index,label` and one row per corrected image:

    dataset,split,index,label
    mnist,test,247,2
    mnist,train,59915,7

`dataset` is the data source the indices refer to (every row must name the dataset being trained),
`split` is `test` or `train`, `index` the image's position in that split, `label` the corrected class index.
Each (split, index) appears at most once. Write one with `python -m mnist_core.review corrections`; train with

    python -m mnist_core.train --data mnist --label-corrections corrections.csv
"""
from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

from mnist_core.data import Dataset
from mnist_core.runs import write_bytes_atomic

HEADER = ["dataset", "split", "index", "label"]
SPLITS = ("train", "test")


class CorrectionsError(ValueError):
    """A corrected-labels file is missing, malformed, or does not fit the dataset; the message says where."""


@dataclasses.dataclass
class Corrections:
    dataset: str | None  # None for a file with no rows
    labels: dict[tuple[str, int], int]  # (split, index) -> corrected label


def read_corrections(path: Path | str) -> Corrections:
    """Parse and check a corrections file on its own (format, one dataset, no duplicates)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets often save a BOM
    except FileNotFoundError as exc:
        raise CorrectionsError(f"Corrected-labels file {path} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CorrectionsError(f"Corrected-labels file {path} is unreadable: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    if header != HEADER:
        raise CorrectionsError(f"{path}: line 1 must be the header {','.join(HEADER)!r}, got {','.join(header)!r}.")
    dataset, labels, seen = None, {}, {}
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            raise CorrectionsError(f"{path}, line {line_no}: expected {len(HEADER)} fields "
                                   f"({','.join(HEADER)}), got {len(row)}.")
        name, split, index, label = (cell.strip() for cell in row)
        if dataset is not None and name != dataset:
            raise CorrectionsError(f"{path}, line {line_no}: dataset {name!r} differs from {dataset!r} on the "
                                   "lines before; one file corrects one dataset.")
        dataset = name
        if split not in SPLITS:
            raise CorrectionsError(f"{path}, line {line_no}: split must be 'test' or 'train', got {split!r}.")
        key = (split, _parse_int(index, "index", path, line_no))
        if key in seen:
            raise CorrectionsError(f"{path}, line {line_no}: {split} image {key[1]} is already corrected on "
                                   f"line {seen[key]}.")
        seen[key] = line_no
        labels[key] = _parse_int(label, "label", path, line_no)
    return Corrections(dataset, labels)


def _parse_int(text: str, field: str, path: Path, line_no: int) -> int:
    if not (text.isascii() and text.isdigit()):
        raise CorrectionsError(f"{path}, line {line_no}: {field} must be an integer >= 0, got {text!r}.")
    return int(text)


def apply_label_corrections(dataset: Dataset, path: Path | str) -> Dataset:
    """A copy of `dataset` whose listed labels are replaced; the images (and the original) are untouched."""
    corrections = read_corrections(path)
    if corrections.dataset is not None and corrections.dataset != dataset.name:
        raise CorrectionsError(f"{path} corrects dataset {corrections.dataset!r}, but the training data is "
                               f"{dataset.name!r}.")
    labels = {"train": dataset.train_labels.clone(), "test": dataset.test_labels.clone()}
    for (split, index), label in corrections.labels.items():
        if index >= len(labels[split]):
            raise CorrectionsError(f"{path}: {split} index {index} is out of range: {dataset.name!r} has "
                                   f"{len(labels[split])} {split} images.")
        if label >= dataset.num_classes:
            raise CorrectionsError(f"{path}: label {label} for {split} image {index} is out of range: "
                                   f"{dataset.name!r} has classes 0..{dataset.num_classes - 1}.")
        labels[split][index] = label
    return dataclasses.replace(dataset, train_labels=labels["train"], test_labels=labels["test"])


def format_corrections(dataset_name: str, labels: dict[tuple[str, int], int]) -> str:
    """The CSV text of a corrections file, rows sorted by split then index."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for (split, index), label in sorted(labels.items()):
        writer.writerow([dataset_name, split, index, label])
    return out.getvalue()


def write_corrections(path: Path | str, dataset_name: str, labels: dict[tuple[str, int], int]) -> None:
    write_bytes_atomic(Path(path), format_corrections(dataset_name, labels).encode())
