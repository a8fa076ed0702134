"""`python -m mnist_core.review`: the suspects listing, exports and corrected labels, on small fake runs.

    python -m pytest tests/test_review_cli.py -q
"""
import csv

import numpy as np
import pytest
from fake_run import make_fake_run

from mnist_core import runs
from mnist_core.review.__main__ import main
from mnist_core.review.corrections import read_corrections
from mnist_core.review.export import export_rows, read_rows_csv, read_rows_json
from mnist_core.review.store import ReviewStore, default_db_url

# The hand-computed example of tests/test_suspects.py, with an imported dataset's class names.
LABELS = np.array([0, 0, 1, 1, 2, 2])
PROBS = np.array([[0.75, 0.25, 0.0], [0.25, 0.75, 0.0], [0.0, 1.0, 0.0],
                  [0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.0, 0.5, 0.5]])
NAMES = ["T-shirt", "Ankle boot", "Bag"]
HEADER = "index\tgiven\tpredicted\tp_given\tlikely_issue"
ALL_LINES = ["1\tT-shirt\tAnkle boot\t0.2500\tyes", "3\tAnkle boot\tT-shirt\t0.5000\tyes",
             "5\tBag\tAnkle boot\t0.5000\tno", "0\tT-shirt\tT-shirt\t0.7500\tno",
             "2\tAnkle boot\tAnkle boot\t1.0000\tno", "4\tBag\tBag\t1.0000\tno"]


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_REVIEW_DB", raising=False)
    return make_fake_run(tmp_path / "runs", PROBS, LABELS, NAMES, data="clothes")


@pytest.mark.parametrize("extra, expected", [
    ([], ALL_LINES),
    (["--top", "2"], ALL_LINES[:2]),
    (["--top", "0"], ALL_LINES),
    (["--class", "Bag"], [ALL_LINES[2], ALL_LINES[5]]),
    (["--class", "2"], [ALL_LINES[2], ALL_LINES[5]]),
    (["--mispredicted"], ALL_LINES[:3]),
    (["--issues"], ALL_LINES[:2]),
])
def test_suspects_prints_one_line_per_image_most_suspicious_first(run_dir, capsys, extra, expected):
    assert main(["suspects", "--run", str(run_dir), *extra]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [HEADER, *expected]
    assert "2 likely label issues of 6 test images" in err


@pytest.mark.parametrize("argv, code, message", [
    (["suspects", "--run", "{tmp}/missing"], 1, "is not a run folder"),
    (["suspects", "--run", "{run}", "--class", "Hat"], 1, "unknown class 'Hat'; classes: T-shirt, Ankle boot, Bag"),
    (["suspects", "--run", "{run}", "--top", "-1"], 2, "--top must be >= 0"),
    (["export", "--run", "{run}"], 2, "the following arguments are required: --format"),
    (["corrections", "--run", "{run}"], 2, "the following arguments are required: --out"),
    (["export", "--run", "{run}", "--format", "csv", "--db", "nonsense"], 1, "not a database URL"),
])
def test_bad_arguments_get_one_line_errors(run_dir, tmp_path, capsys, argv, code, message):
    argv = [a.format(tmp=tmp_path, run=run_dir) for a in argv]
    if code == 2:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    else:
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_an_unfinished_run_has_nothing_to_review(run_dir, capsys):
    runs.set_status(run_dir, "failed", error="boom")
    assert main(["suspects", "--run", str(run_dir)]) == 1
    assert "is failed, not finished" in capsys.readouterr().err


def test_export_and_corrections_read_the_runs_dir_database(run_dir, tmp_path, capsys):
    store = ReviewStore(default_db_url(run_dir.parent))
    store.add(run_dir.name, "clothes", 1, "ann", "label_wrong", 1, "a boot")
    store.add(run_dir.name, "clothes", 5, "bob", "ambiguous")
    store.add(run_dir.name, "clothes", 3, "ann", "label_wrong", 0)
    store.add("another-run", "clothes", 2, "ann", "label_wrong", 0)
    expected = export_rows(store.history(run_dir.name), PROBS, LABELS, NAMES)
    assert [r["index"] for r in expected] == [1, 3, 5]

    assert main(["export", "--run", str(run_dir), "--format", "json"]) == 0
    assert read_rows_json(capsys.readouterr().out) == expected
    assert main(["export", "--run", str(run_dir), "--format", "csv", "--out", str(tmp_path / "v.csv")]) == 0
    assert read_rows_csv((tmp_path / "v.csv").read_text()) == expected
    assert main(["corrections", "--run", str(run_dir), "--out", str(tmp_path / "c.csv")]) == 0
    assert (tmp_path / "c.csv").read_text() == "dataset,split,index,label\nclothes,test,1,1\nclothes,test,3,0\n"


def test_the_db_option_and_env_choose_another_database(run_dir, tmp_path, capsys, monkeypatch):
    other = default_db_url(tmp_path / "team")
    ReviewStore(other).add(run_dir.name, "clothes", 4, "cy", "label_wrong", 0)
    assert main(["corrections", "--run", str(run_dir), "--out", str(tmp_path / "c.csv"), "--db", other]) == 0
    assert (tmp_path / "c.csv").read_text().splitlines()[1:] == ["clothes,test,4,0"]
    monkeypatch.setenv("MNIST_REVIEW_DB", other)
    assert main(["export", "--run", str(run_dir), "--format", "json"]) == 0
    assert [r["index"] for r in read_rows_json(capsys.readouterr().out)] == [4]


FORMULA_NAMES = ["=HYPERLINK(\"http://127.0.0.1:9/x\",\"click\")", "-1", "@SUM(A1)"]


def test_exported_csv_cells_cannot_run_as_formulas_and_read_back_as_typed(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MNIST_REVIEW_DB", raising=False)
    run = make_fake_run(tmp_path / "runs", PROBS, LABELS, FORMULA_NAMES, data="clothes")
    store = ReviewStore(default_db_url(run.parent))
    store.add(run.name, "clothes", 1, "=cmd|' /C calc'!A0", "label_wrong", 1, "+SUM(1,2)")
    store.add(run.name, "clothes", 1, "'quoted", "fine", None, "looks fine")  # a leading ' must survive too
    store.add(run.name, "clothes", 3, "ann", "label_wrong", 0, "-2 is the better label")
    out = tmp_path / "verdicts.csv"
    assert main(["export", "--run", str(run), "--format", "csv", "--out", str(out)]) == 0
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    first, second = rows  # images 1 (given class 0, predicted 1) and 3 (given 1, predicted 0)
    assert first["given_name"] == "'" + FORMULA_NAMES[0] and first["predicted_name"] == "'-1"
    assert first["verdict"] == "fine" and first["corrected_name"] == ""
    assert first["reviewers"] == "'=cmd|' /C calc'!A0\n'quoted"  # one cell: its first character is what counts
    assert first["notes"] == "'=cmd|' /C calc'!A0: +SUM(1,2)\n'quoted: looks fine"
    assert second["given_name"] == "'-1" and second["corrected_name"] == "'" + FORMULA_NAMES[0]
    assert second["notes"] == "ann: -2 is the better label" and second["reviewers"] == "ann"  # nothing to escape
    for row in rows:  # no cell a spreadsheet would evaluate
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in row.values())
    expected = export_rows(store.history(run.name), PROBS, LABELS, FORMULA_NAMES)
    assert read_rows_csv(out.read_text()) == expected  # the names read back exactly, "-1" included
    assert expected[1]["given_name"] == "-1" and expected[0]["reviewers"] == ["=cmd|' /C calc'!A0", "'quoted"]

    assert main(["suspects", "--run", str(run)]) == 0  # the tab-separated listing is pasted into sheets too
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].split("\t")[:3] == ["1", "'" + FORMULA_NAMES[0], "'-1"]


def test_corrections_files_hold_no_free_text_and_keep_labels_of_formula_like_classes(tmp_path):
    """Decision: a corrections file (read back as training input) is not escaped, and needs no escaping:
    class names never go into it, only the dataset's name (validated: [a-z0-9][a-z0-9_-]*), splits and
    integers; so a class named "-1" is corrected by its index and cannot be corrupted on the way."""
    run = make_fake_run(tmp_path / "runs", PROBS, LABELS, FORMULA_NAMES, data="clothes")
    store = ReviewStore(default_db_url(run.parent))
    store.add(run.name, "clothes", 1, "=cmd", "label_wrong", 1, "=HYPERLINK(\"x\")")  # given label 0 -> "-1"
    out = tmp_path / "c.csv"
    assert main(["corrections", "--run", str(run), "--out", str(out)]) == 0
    with out.open(newline="") as f:
        assert list(csv.reader(f)) == [["dataset", "split", "index", "label"], ["clothes", "test", "1", "1"]]
    parsed = read_corrections(out)
    assert parsed.labels == {("test", 1): 1} and FORMULA_NAMES[parsed.labels[("test", 1)]] == "-1"
