"""Reviewing the training images: the Review page's split switch, verdicts on training images, the queues, "Retrain
with the corrections" (a real worker trains the new run) and the before / after view; corrections files with
train rows, old files without a split column, and train indices out of range.

    python -m pytest -q tests/test_review_train_split.py

The cross-validated run is a fake run plus an oof_probs.pt in the format of issue 12 (tests/fake_run.py,
add_oof_probs): three training images are given probabilities that favour another class (`oof_probs`).
"""
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from apptest_helpers import unescaped
from fake_run import add_oof_probs, make_fake_run
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.compare import prediction_changes
from mnist_core.data import load_dataset
from mnist_core.review.corrections import (
    CorrectionsError,
    apply_label_corrections,
    check_corrections,
    parse_corrections,
    read_corrections,
)
from mnist_core.review.issues import IssueTable, find_issues
from mnist_core.review.queues import filter_order, group_of, queue_order
from mnist_core.review.store import ReviewStore
from mnist_core.review.suspects import filter_queue, find_suspects

REPO = Path(__file__).resolve().parent.parent
PAGE = str(REPO / "app_pages" / "review.py")
FLIPPED = [5, 17, 123]  # training images whose out-of-fold probabilities favour another class

pytestmark = pytest.mark.slow


def oof_probs(train_labels: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=1.0, size=(len(train_labels), 10))
    logits[np.arange(len(train_labels)), train_labels] += 6.0
    for rank, i in enumerate(FLIPPED):  # the lower the rank, the less likely its given label
        logits[i] = 0.0
        logits[i, train_labels[i]] = -10.0 + 2 * rank
        logits[i, (train_labels[i] + 1) % 10] = 8.0
    return (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def lab(tmp_path, monkeypatch):
    dataset = load_dataset("mnist-sample")
    train, test = dataset.train_labels.numpy(), dataset.test_labels.numpy()
    root = tmp_path / "runs"
    plain = make_fake_run(root, labels=test, run_id="20250101-000000-plain")  # no oof_probs.pt
    cv = make_fake_run(root, labels=test, run_id="20250102-000000-cross", seed=1)
    add_oof_probs(cv, oof_probs(train), train)
    monkeypatch.setenv("MNIST_RUNS_DIR", str(root))
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MNIST_REVIEW_DB", f"sqlite:///{tmp_path / 'reviews.db'}")
    return SimpleNamespace(root=root, plain=plain, cv=cv, train=train, test=test, dataset=dataset,
                           db=f"sqlite:///{tmp_path / 'reviews.db'}")


def open_page(run_id: str | None = None, reviewer: str | None = "alice", **params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    if reviewer:
        at.session_state["reviewer_name"] = reviewer
    if run_id:
        at.session_state["selected_run_id"] = run_id
    at.query_params.update(params)
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def shown_image(at: AppTest) -> tuple[str, int]:
    [caption] = [c for img in at.get("image") for c in [img.proto.imgs[0].caption] if " image " in c]
    noun, rest = caption.split(" image ")
    return noun, int(rest.split()[0])


def test_the_split_switch_shows_the_training_images_most_suspicious_first(lab):
    at = open_page()
    assert_clean(at)
    assert shown_image(at)[0] == "Test"
    at.radio(key="review_split").set_value("train").run()
    assert_clean(at)
    assert shown_image(at) == ("Training", FLIPPED[0])  # the lowest p(given label) of all 4,000
    assert at.query_params["split"] == "train"
    assert f"{lab.train[FLIPPED[0]]}" == at.metric[0].value  # given label: the training label
    # A link with ?split=train opens there, and the queue of likely label issues holds exactly the flipped ones.
    at = open_page(split="train", queue="issues")
    assert_clean(at)
    assert shown_image(at) == ("Training", FLIPPED[0])
    assert "3 in queue" in at.get("progress")[0].proto.text
    at.radio(key="review_split").set_value("test").run()
    assert shown_image(at)[0] == "Test" and "split" not in at.query_params


def test_a_verdict_on_a_training_image_is_stored_with_its_split(lab):
    at = open_page(split="train")
    at.button(key="review_label_wrong").click().run()
    assert_clean(at)
    store = ReviewStore(lab.db)
    [v] = store.history(lab.cv.name, split="train")
    assert (v.split, v.index, v.reviewer) == ("train", FLIPPED[0], "alice")
    assert v.corrected_label == (lab.train[FLIPPED[0]] + 1) % 10  # the suggested label: the likely class
    assert store.history(lab.cv.name) == []  # nothing on the test image with that index
    assert shown_image(at) == ("Training", FLIPPED[1])  # on to the next unreviewed image
    store.close()


def test_a_run_without_out_of_fold_probabilities_says_how_to_get_them(lab):
    at = open_page(run_id=lab.plain.name, split="train")
    assert not at.exception
    assert any("Cross-validate for data review" in i.value and "--folds" in i.value for i in at.info)
    assert not at.button  # no verdict buttons on images that are not there


def test_bad_links_and_a_damaged_oof_file_get_messages_not_tracebacks(lab):
    at = open_page(split="validation", queue="best")
    assert_clean(at)
    warnings = unescaped(" ".join(w.value for w in at.warning))
    assert "split='validation' in the link" in warnings and "queue='best' in the link" in warnings
    (lab.cv / "oof_probs.pt").write_bytes(b"not a torch file")
    at = open_page(split="train")
    assert not at.exception
    assert any("oof_probs.pt of run 20250102-000000-cross is unreadable" in unescaped(e.value) for e in at.error)


def test_queues_without_embeddings_say_what_they_need(lab):
    for queue, needs in (("outliers", "Outlier scores need the run's embeddings"),
                         ("duplicates", "No near-duplicate groups")):
        at = open_page(split="train", queue=queue)
        assert_clean(at)
        assert any(needs in i.value for i in at.info), [i.value for i in at.info]


def test_retrain_makes_a_run_with_the_corrected_training_labels_and_before_after_compares_them(lab):
    at = open_page(split="train")
    assert at.button(key="review_retrain").disabled  # nothing corrected yet
    at.button(key="review_label_wrong").click().run()
    at.button(key="review_retrain").click().run()
    assert_clean(at)
    new = [r for r in runs.list_runs(lab.root) if r.run_id not in (lab.plain.name, lab.cv.name)]
    assert len(new) == 1, [r.run_id for r in runs.list_runs(lab.root)]
    assert any(new[0].run_id in s.value for s in at.success)
    config, old = new[0].config, runs.read_run(lab.cv).config
    path = Path(config["label_corrections"])
    assert path.parent == (lab.root / "corrections").resolve()
    assert read_corrections(path).labels == {("train", FLIPPED[0]): (lab.train[FLIPPED[0]] + 1) % 10}
    assert {k: v for k, v in config.items() if k != "label_corrections"} == \
        {k: v for k, v in old.items() if k != "label_corrections"}
    corrected = apply_label_corrections(lab.dataset, path).train_labels.numpy()
    assert np.flatnonzero(corrected != lab.train).tolist() == [FLIPPED[0]]

    after = wait_finished(new[0].path)
    assert after.status == "finished", after.error
    at = open_page(run_id=lab.cv.name)
    assert_clean(at)
    before_probs, _ = runs.load_probs(lab.cv)
    after_probs, labels = runs.load_probs(after.path)
    out = prediction_changes(before_probs, after_probs, labels)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[f"Before ({lab.cv.name})"] == f"{out['accuracy'][0]:.2%}"
    assert metrics[f"After ({after.run_id})"] == f"{out['accuracy'][1]:.2%}"
    assert metrics["Predictions changed"] == str(len(out["changed"]))
    assert f"first {min(25, len(out['changed']))} of {len(out['changed'])}" in "".join(
        c for img in at.get("image") for c in [img.proto.imgs[0].caption])


def wait_finished(run_dir: Path, timeout_s: float = 180.0) -> runs.RunInfo:
    import time
    deadline = time.time() + timeout_s
    info = runs.read_run(run_dir)
    while info.status in ("queued", "running") and time.time() < deadline:
        time.sleep(0.5)
        info = runs.read_run(run_dir)
    return info


def test_a_corrections_file_naming_train_indices_out_of_range_is_refused(lab, tmp_path):
    bad = b"dataset,split,index,label\nmnist-sample,train,3,1\nmnist-sample,train,4000,2\n"
    with pytest.raises(CorrectionsError, match="train index 4000 is out of range: 'mnist-sample' has 4000 train"):
        check_corrections(parse_corrections(bad), lab.dataset, "The uploaded file")
    path = tmp_path / "bad.csv"
    path.write_bytes(bad)
    out = subprocess.run([sys.executable, "-m", "mnist_core.train", "--data", "mnist-sample", "--epochs", "1",
                          "--label-corrections", str(path), "--runs-dir", str(tmp_path / "cli-runs")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "train index 4000 is out of range" in out.stderr and "Traceback" not in out.stderr


def test_an_old_corrections_file_without_a_split_column_reads_as_test_rows(lab):
    old = parse_corrections(b"dataset,index,label\nmnist-sample,7,3\n\nmnist-sample,999,1\n")
    assert old.labels == {("test", 7): 3, ("test", 999): 1}
    with pytest.raises(CorrectionsError, match=r"line 2: expected 3 fields \(dataset,index,label\), got 4"):
        parse_corrections(b"dataset,index,label\nmnist-sample,train,7,3\n")


def test_queue_orders_on_a_hand_made_table():
    table = IssueTable(label_quality=np.array([0.9, 0.1, 0.5, 0.1, 0.7], np.float32),
                       is_issue=np.array([False, True, True, False, True]), suggested=np.array([-1, 2, 0, -1, 1]),
                       outlier_score=np.array([0.2, np.nan, 0.9, 0.2, 0.1], np.float32),
                       dup_group=np.array([1, -1, 0, 1, 0]))
    assert queue_order(table, "quality").tolist() == [1, 3, 2, 4, 0]
    assert queue_order(table, "issues").tolist() == [1, 2, 4]
    assert queue_order(table, "outliers").tolist() == [2, 0, 3, 4]
    assert queue_order(table, "duplicates").tolist() == [2, 4, 0, 3]
    with pytest.raises(ValueError, match="unknown queue 'x'"):
        queue_order(table, "x")
    assert group_of(table, 4).tolist() == [2, 4] and group_of(table, 1).tolist() == [1]  # shown side by side


def test_the_page_filters_on_cleanlabs_quality_queue_match_the_old_filters_on_the_whole_ranking():
    rng = np.random.default_rng(3)
    probs, labels = rng.dirichlet(np.ones(4), size=300), rng.integers(0, 4, 300)
    s = find_suspects(probs, labels)
    for kwargs in ({}, dict(klass=2), dict(mispredicted_only=True), dict(issues_only=True, max_p_given=0.3)):
        assert filter_order(s, queue_order(find_issues(probs, labels), "quality"), **kwargs).tolist() == \
            filter_queue(s, **kwargs).tolist()


def test_prediction_changes_count_fixed_and_broken_images():
    labels = np.array([0, 1, 2, 0])
    before = np.eye(3)[[0, 2, 2, 1]]  # right, wrong, right, wrong
    after = np.eye(3)[[0, 1, 0, 2]]  # right, right (fixed), wrong (broken), wrong (changed, still wrong)
    out = prediction_changes(before, after, labels)
    assert out["changed"].tolist() == [1, 2, 3] and out["fixed"].tolist() == [1] and out["broken"].tolist() == [2]
    assert out["accuracy"] == (0.5, 0.5)
    assert out["per_class"][0].tolist() == [0.5, 0.0, 1.0] and out["per_class"][1].tolist() == [0.5, 1.0, 0.0]


def test_the_corrections_command_writes_train_rows_and_export_keeps_to_test_verdicts(lab, tmp_path, capsys):
    from mnist_core.review.__main__ import main
    store = ReviewStore(lab.db)
    store.add(lab.cv.name, "mnist-sample", 5, "ann", "label_wrong", 3, split="train")
    store.add(lab.cv.name, "mnist-sample", 5, "ann", "label_wrong", 4)  # the test image with the same index
    store.add(lab.cv.name, "mnist-sample", 9, "bob", "label_wrong", 2, split="train")
    store.add(lab.cv.name, "mnist-sample", 9, "bob", "fine", split="train")  # the latest counts: no row
    out = tmp_path / "c.csv"
    assert main(["corrections", "--run", str(lab.cv), "--out", str(out), "--db", lab.db]) == 0
    assert out.read_text() == "dataset,split,index,label\nmnist-sample,test,5,4\nmnist-sample,train,5,3\n"
    assert main(["export", "--run", str(lab.cv), "--format", "json", "--db", lab.db]) == 0
    [row] = json.loads(capsys.readouterr().out)  # the test verdict only: train verdicts need train probabilities
    assert (row["index"], row["corrected_label"]) == (5, 4)
