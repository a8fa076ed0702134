"""Review results out of the store: one row per judged image (CSV or JSON), and corrected labels.

Row fields (EXPORT_FIELDS): run_id, dataset, index (test image), given/predicted label and class name,
p_given, verdict (the latest one), corrected label and name, reviewers and notes ("reviewer: note") in time
order, verdicts (how many were given) and updated_at (UTC time of the latest). In CSV, the lists are one
item per line inside their cell; `read_rows_csv` / `read_rows_json` parse both back to the same rows.

CSV cells are for spreadsheets, and names, notes and class names are typed by reviewers and importers: a text
cell that starts with =, +, -, @, a tab or a carriage return would be run as a formula (`=HYPERLINK(...)`), so
it gets a leading single quote (OWASP's CSV injection rule), which spreadsheets show as text and hide;
`read_rows_csv` takes it off again, so a class named "-1" reads back as "-1". The JSON export is left as is.

    python -m mnist_core.review export --run RUN_DIR --format csv --out reviews.csv
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict

import numpy as np

from mnist_core.review.corrections import CorrectionsError, read_corrections
from mnist_core.review.store import Verdict, latest_by_image

EXPORT_FIELDS = ["run_id", "dataset", "index", "given_label", "given_name", "predicted_label", "predicted_name",
                 "p_given", "verdict", "corrected_label", "corrected_name", "reviewers", "notes", "verdicts",
                 "updated_at"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# How each CSV cell reads back.
_INTS, _FLOATS, _LISTS = {"index", "given_label", "predicted_label", "verdicts"}, {"p_given"}, {"reviewers", "notes"}
_OPTIONAL_INTS, _OPTIONAL_STRS = {"corrected_label"}, {"corrected_name"}


def export_rows(history: list[Verdict], probs: np.ndarray, labels: np.ndarray, class_names: list[str]) -> list[dict]:
    """One row per judged image, by image index; probs (N, C) and labels (N,) are the run's test set."""
    by_image: dict[int, list[Verdict]] = defaultdict(list)
    for v in sorted(history, key=lambda v: (v.created_at, v.id)):
        by_image[v.index].append(v)
    rows = []
    for index, v in sorted(latest_by_image(history).items()):
        if index >= len(labels):
            raise ValueError(f"a verdict names test image {index}, but run {v.run_id} has {len(labels)} test images")
        given, predicted = int(labels[index]), int(np.argmax(probs[index]))
        seq = by_image[index]
        rows.append({
            "run_id": v.run_id, "dataset": v.data, "index": index,
            "given_label": given, "given_name": class_names[given],
            "predicted_label": predicted, "predicted_name": class_names[predicted],
            "p_given": float(probs[index, given]), "verdict": v.verdict, "corrected_label": v.corrected_label,
            "corrected_name": class_names[v.corrected_label] if v.corrected_label is not None else None,
            "reviewers": list(dict.fromkeys(x.reviewer for x in seq)),
            "notes": [f"{x.reviewer}: {x.note}" for x in seq if x.note],
            "verdicts": len(seq), "updated_at": v.created_at.isoformat(timespec="seconds"),
        })
    return rows


def csv_cell(value):
    """A value as a spreadsheet-safe CSV cell: text starting like a formula gets a leading single quote; so
    does text that already starts with one, so that `csv_text` gives back exactly what was written."""
    if isinstance(value, str) and value[:1] in (*FORMULA_STARTS, "'"):
        return "'" + value
    return value


def csv_text(cell: str) -> str:
    """The text a csv_cell was made from."""
    return cell[1:] if cell.startswith("'") else cell


def rows_to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell("\n".join(v) if k in _LISTS else ("" if v is None else v))
                         for k, v in row.items()})
    return out.getvalue()


def rows_to_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def read_rows_csv(text: str) -> list[dict]:
    """Rows from rows_to_csv's text, with their types restored."""
    return [{k: _typed(k, csv_text(v)) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def _typed(field: str, text: str):
    if field in _INTS:
        return int(text)
    if field in _FLOATS:
        return float(text)
    if field in _OPTIONAL_INTS:
        return int(text) if text else None
    if field in _OPTIONAL_STRS:
        return text or None
    if field in _LISTS:
        return text.split("\n") if text else []
    return text


def read_rows_json(text: str) -> list[dict]:
    return json.loads(text)


def review_corrections(history: list[Verdict], data: str, previous: str = "") -> dict[tuple[str, int], int]:
    """(split, index) -> label for a corrections file: the run's own corrections file (`previous`, if it was
    trained with one), overridden by every image (training or test, each verdict's split) whose latest verdict
    is 'label is wrong'. Give it the history of both splits (ReviewStore.history(run_id, split=None)).

    Keeping the previous corrections matters: the run's given labels already include them, so a second review
    round that only listed its new findings would silently undo the first round when retraining.
    """
    labels: dict[tuple[str, int], int] = {}
    if previous:
        try:
            earlier = read_corrections(previous)
        except CorrectionsError as exc:
            raise CorrectionsError(f"This run was trained with the corrected labels in {previous}, which the new "
                                   f"file must keep, but: {exc}") from exc
        if earlier.data not in (None, data):
            raise CorrectionsError(f"{previous} corrects dataset {earlier.data!r}, but the run used {data!r}.")
        labels.update(earlier.labels)
    for split in sorted({v.split for v in history}):
        for index, v in latest_by_image([v for v in history if v.split == split]).items():
            if v.verdict == "label_wrong":
                labels[(split, index)] = v.corrected_label
    return labels
