"""Exports of the verdicts (CSV/JSON round trips) and corrected-labels files (format, validation, applying).

    python -m pytest tests/test_review_export.py -q
"""
import datetime as dt
import re

import numpy as np
import pytest
import torch

from mnist_core.data import Dataset
from mnist_core.review.corrections import (
    CorrectionsError,
    apply_label_corrections,
    format_corrections,
    read_corrections,
    write_corrections,
)
from mnist_core.review.export import (
    EXPORT_FIELDS,
    csv_cell,
    csv_text,
    export_rows,
    read_rows_csv,
    read_rows_json,
    review_corrections,
    rows_to_csv,
    rows_to_json,
)
from mnist_core.review.store import Verdict

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.timezone.utc)


def toy_dataset() -> Dataset:
    g = torch.Generator().manual_seed(0)
    return Dataset("toy", torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8, generator=g),
                   torch.tensor([0, 1, 2, 0, 1, 2]), torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8, generator=g),
                   torch.tensor([2, 1, 0, 2]), ["cat", "dog", "bird"])


def verdict(id, index, reviewer, kind, corrected=None, note="", minutes=0) -> Verdict:
    return Verdict(id, "run-1", "toy", index, reviewer, kind, corrected, note, T0 + dt.timedelta(minutes=minutes))


def test_corrections_change_exactly_the_listed_labels(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("dataset,split,index,label\ntoy,test,1,2\ntoy,train,5,0\n\ntoy,test,3,0\n")
    original = toy_dataset()
    before = (original.train_labels.clone(), original.test_labels.clone())
    corrected = apply_label_corrections(original, path)
    assert corrected.test_labels.tolist() == [2, 2, 0, 0]
    assert corrected.train_labels.tolist() == [0, 1, 2, 0, 1, 0]
    assert torch.equal(original.train_labels, before[0]) and torch.equal(original.test_labels, before[1])
    assert corrected.test_images is original.test_images and corrected.class_names == original.class_names


def test_a_file_with_only_the_header_changes_nothing_and_a_bom_is_accepted(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("\ufeffdataset,split,index,label\n".encode())
    assert torch.equal(apply_label_corrections(toy_dataset(), path).test_labels, toy_dataset().test_labels)


@pytest.mark.parametrize("body, message", [
    ("split,index,label\ntest,1,2\n", "line 1 must be the header 'dataset,split,index,label'; it is not"),
    ("dataset,split,index,label\ntoy,test,1\n", "line 2: expected 4 fields"),
    ("dataset,split,index,label\ntoy,valid,1,2\n", "line 2: split must be 'test' or 'train'."),
    ("dataset,split,index,label\ntoy,test,-1,2\n", "line 2: index must be an integer >= 0."),
    ("dataset,split,index,label\ntoy,test,1,two\n", "line 2: label must be an integer >= 0."),
    ("dataset,split,index,label\ntoy,test,1,2\ntoy,test,1,0\n", "line 3: test image 1 is already corrected on line 2"),
    ("dataset,split,index,label\ntoy,test,1,2\nmnist,test,2,0\n", "line 3: the dataset is not a data"),
    ("dataset,split,index,label\nmnist,test,1,2\n", "corrects another dataset than the training data, 'toy'."),
    ("dataset,split,index,label\ntoy,test,4,2\n", "test index 4 is out of range: 'toy' has 4 test images"),
    ("dataset,split,index,label\ntoy,train,1,3\n", "label 3 for train image 1 is out of range: 'toy' has classes 0..2"),
])
def test_bad_corrections_files_get_a_specific_error(tmp_path, body, message):
    path = tmp_path / "c.csv"
    path.write_text(body)
    with pytest.raises(CorrectionsError, match=re.escape(message)):
        apply_label_corrections(toy_dataset(), path)


def test_a_missing_corrections_file_is_named(tmp_path):
    with pytest.raises(CorrectionsError, match=f"{tmp_path / 'nope.csv'} does not exist"):
        apply_label_corrections(toy_dataset(), tmp_path / "nope.csv")


def test_written_corrections_read_back_and_apply(tmp_path):
    labels = {("test", 3): 1, ("train", 0): 2, ("test", 0): 0}
    write_corrections(tmp_path / "c.csv", "toy", labels)
    assert (tmp_path / "c.csv").read_text() == "dataset,split,index,label\ntoy,test,0,0\ntoy,test,3,1\ntoy,train,0,2\n"
    parsed = read_corrections(tmp_path / "c.csv")
    assert (parsed.data, parsed.labels) == ("toy", labels)
    assert apply_label_corrections(toy_dataset(), tmp_path / "c.csv").test_labels.tolist() == [0, 1, 0, 1]


def test_review_corrections_take_the_latest_verdicts_over_the_runs_own_corrections(tmp_path):
    history = [verdict(1, 0, "ann", "label_wrong", 1, minutes=0),
               verdict(2, 0, "bob", "fine", minutes=1),  # the latest on image 0: no correction
               verdict(3, 2, "ann", "label_wrong", 2, minutes=2),
               verdict(4, 2, "bob", "label_wrong", 1, minutes=3),  # the latest on image 2: corrected to 1
               verdict(5, 3, "ann", "ambiguous", minutes=4)]
    assert review_corrections(history, "toy") == {("test", 2): 1}
    previous = tmp_path / "round1.csv"
    previous.write_text(format_corrections("toy", {("test", 2): 0, ("test", 3): 1, ("train", 4): 2}))
    assert review_corrections(history, "toy", str(previous)) == {("test", 2): 1, ("test", 3): 1, ("train", 4): 2}
    with pytest.raises(CorrectionsError, match="trained with the corrected labels in .*gone.csv.*does not exist"):
        review_corrections(history, "toy", str(tmp_path / "gone.csv"))
    with pytest.raises(CorrectionsError, match="corrects dataset 'toy', but the run used 'mnist'"):
        review_corrections(history, "mnist", str(previous))


def test_export_has_one_row_per_image_and_round_trips_through_csv_and_json():
    labels = np.array([2, 1, 0, 2])
    probs = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]], dtype=np.float32)
    history = [verdict(1, 1, "Zoë", "label_wrong", 0, note='says "cat", clearly', minutes=0),
               verdict(2, 1, "bob", "ambiguous", note="half cat, half dog", minutes=1),
               verdict(3, 1, "Zoë", "label_wrong", 0, minutes=2),
               verdict(4, 3, "bob", "fine", minutes=1)]
    rows = export_rows(history, probs, labels, ["cat", "dog", "bird"])
    assert [r["index"] for r in rows] == [1, 3]
    first = rows[0]
    assert list(first) == EXPORT_FIELDS
    assert (first["verdict"], first["corrected_label"], first["corrected_name"]) == ("label_wrong", 0, "cat")
    assert (first["given_name"], first["predicted_name"], first["p_given"]) == ("dog", "cat", float(np.float32(0.3)))
    assert first["reviewers"] == ["Zoë", "bob"] and first["verdicts"] == 3
    assert first["notes"] == ['Zoë: says "cat", clearly', "bob: half cat, half dog"]
    assert first["updated_at"] == "2025-03-01T09:02:00+00:00"
    assert (rows[1]["corrected_label"], rows[1]["corrected_name"], rows[1]["notes"]) == (None, None, [])
    assert read_rows_csv(rows_to_csv(rows)) == rows
    assert read_rows_json(rows_to_json(rows)) == rows
    assert read_rows_csv(rows_to_csv([])) == [] and read_rows_json(rows_to_json([])) == []


def test_export_refuses_a_verdict_beyond_the_runs_test_set():
    with pytest.raises(ValueError, match="test image 9, but run run-1 has 4 test images"):
        export_rows([verdict(1, 9, "ann", "fine")], np.full((4, 3), 1 / 3), np.zeros(4, dtype=int), ["a", "b", "c"])


@pytest.mark.parametrize("text, cell", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("'already", "''already"), ("cat", "cat"), ("", ""), ("a=1", "a=1")])
def test_csv_cells_starting_like_a_formula_get_a_quote_that_reads_back_off(text, cell):
    assert csv_cell(text) == cell and csv_text(cell) == text
    assert csv_cell(7) == 7 and csv_cell(0.5) == 0.5  # numbers are numbers, never text
