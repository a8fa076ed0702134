"""The Review page and retraining with corrections, on a run trained on `mnist-sample` (1 epoch, once per module).

    python -m pytest tests/test_review_page.py -q

The page is driven with AppTest.from_file("app_pages/review.py") plus session state and query parameters, and once
through app.py (the sidebar's reviewer name).
"""
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from apptest_helpers import unescaped
from fake_run import make_fake_run
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.config import TrainConfig
from mnist_core.data import DIGITS, load_dataset
from mnist_core.launch import run_training
from mnist_core.review.corrections import apply_label_corrections, write_corrections
from mnist_core.review.store import ReviewStore
from mnist_core.review.suspects import filter_queue, find_suspects

REPO = Path(__file__).resolve().parent.parent
PAGE = str(REPO / "app_pages" / "review.py")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Runs dir with a run trained with corrected labels (1 epoch) and a newer fake run (the default selection)."""
    root = tmp_path_factory.mktemp("review")
    dataset = load_dataset("mnist-sample")
    test, train = dataset.test_labels, dataset.train_labels
    corrected = {("test", 0): (int(test[0]) + 1) % 10, ("test", 7): (int(test[7]) + 3) % 10,
                 ("train", 2): (int(train[2]) + 5) % 10}
    write_corrections(root / "round1.csv", "mnist-sample", corrected)
    config = TrainConfig(data="mnist-sample", epochs=1, batch_size=128, device="cpu",
                         label_corrections=str(root / "round1.csv"))
    run_dir = runs.create_run(root / "runs", config, run_id="20250101-000000-trained")
    status = run_training(config, run_dir, root / "data", should_stop=lambda: False)  # mnist-sample: no files
    probs, labels = runs.load_probs(run_dir)
    fake_probs = np.random.default_rng(0).dirichlet(np.ones(10), size=len(test))
    make_fake_run(root / "runs", fake_probs, test.numpy(), DIGITS, data="mnist-sample", run_id="20250102-000000-fake")
    return SimpleNamespace(data_dir=root / "data", root=root, runs_dir=root / "runs", run_dir=run_dir,
                           run_id=run_dir.name, status=status,
                           dataset=dataset, corrected=corrected, probs=probs, labels=labels,
                           suspects=find_suspects(probs, labels))


@pytest.fixture
def env(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(trained.runs_dir))
    monkeypatch.setenv("MNIST_DATA_DIR", str(trained.data_dir))
    monkeypatch.setenv("MNIST_REVIEW_DB", f"sqlite:///{tmp_path / 'reviews.db'}")
    return os.environ["MNIST_REVIEW_DB"]


def open_page(reviewer: str | None = "alice", **params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    if reviewer:
        at.session_state["reviewer_name"] = reviewer
    at.query_params.update(params)
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_training_with_corrections_changes_exactly_the_corrected_labels(trained):
    assert trained.status["status"] == "finished", trained.status
    original = trained.dataset
    corrected = apply_label_corrections(original, trained.root / "round1.csv")
    train_diff = torch.nonzero(corrected.train_labels != original.train_labels).flatten().tolist()
    test_diff = torch.nonzero(corrected.test_labels != original.test_labels).flatten().tolist()
    assert (train_diff, test_diff) == ([2], [0, 7])
    assert int(corrected.train_labels[2]) == trained.corrected[("train", 2)]
    assert torch.equal(corrected.train_images, original.train_images)
    # the run evaluated (and stored) the corrected test labels, and only those differ from the data source
    run_diff = np.flatnonzero(trained.labels != original.test_labels.numpy()).tolist()
    assert run_diff == [0, 7]
    assert [int(trained.labels[i]) for i in run_diff] == [trained.corrected[("test", i)] for i in run_diff]


def test_suspects_cli_on_the_trained_run(trained):
    out = subprocess.run([sys.executable, "-m", "mnist_core.review", "suspects", "--run", str(trained.run_dir),
                          "--top", "10"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "index\tgiven\tpredicted\tp_given\tlikely_issue" and len(lines) == 11
    rows = [line.split("\t") for line in lines[1:]]
    p_given = trained.probs[np.arange(len(trained.labels)), trained.labels]
    assert int(rows[0][0]) == int(np.argmin(p_given))
    for index, given, predicted, p, issue in rows:
        i = int(index)
        assert (given, predicted) == (str(trained.labels[i]), str(trained.probs[i].argmax()))
        assert p == f"{p_given[i]:.4f}" and issue == ("yes" if trained.suspects.issue[i] else "no")
    assert [float(r[3]) for r in rows] == sorted(float(r[3]) for r in rows)


def busiest_class(s) -> int:
    """The class with the most images predicted as another class (so the filtered queue is not empty)."""
    return int(np.bincount(s.labels[s.predicted != s.labels], minlength=10).argmax())


def test_query_params_restore_the_view(trained, env):
    s, k = trained.suspects, busiest_class(trained.suspects)
    queue = filter_queue(s, klass=k, mispredicted_only=True, max_p_given=0.9)
    image = int(queue[1] if len(queue) > 1 else queue[0])
    link = dict(run=trained.run_id, **{"class": str(k)}, mis="1", threshold="0.9", image=str(image))
    at = open_page(**link)
    assert_clean(at)
    assert at.session_state["review_class"] == k and at.selectbox(key="review_class").value == k
    assert at.slider(key="review_threshold").value == pytest.approx(0.9)
    assert at.checkbox(key="review_mispredicted").value and not at.checkbox(key="review_issues").value
    assert at.session_state["review_image"] == image
    assert f"Run {trained.run_id}" in at.caption[0].value  # not the newer fake run
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Given label"] == str(k) and metrics["Predicted"] == str(trained.probs[image].argmax())
    assert metrics["p(given label)"] == f"{s.p_given[image]:.3f}"
    assert f"0 reviewed / {len(queue)} in queue" in at.get("progress")[0].proto.text
    assert dict(at.query_params) == link
    # a teammate opening the same link sees the same view
    other = open_page("bob", **dict(at.query_params))
    assert other.session_state["review_image"] == image and other.session_state["review_class"] == k


def test_changing_the_filters_updates_the_link(trained, env):
    at = open_page(run=trained.run_id)
    assert_clean(at)
    assert at.session_state["review_image"] == int(trained.suspects.order[0])  # the most suspicious image
    at.selectbox(key="review_class").set_value(5).run()
    at.checkbox(key="review_issues").check().run()
    queue = filter_queue(trained.suspects, klass=5, issues_only=True)
    expected = dict(run=trained.run_id, **{"class": "5"}, issues="1")
    if len(queue):
        expected["image"] = str(queue[0])
    assert dict(at.query_params) == expected


def test_picking_another_run_starts_at_its_most_suspicious_image(trained, env):
    start = int(trained.suspects.order[5])
    at = open_page(run=trained.run_id, image=str(start))
    assert at.session_state["review_image"] == start
    at.session_state["selected_run_id"] = "20250102-000000-fake"  # what the sidebar's run picker sets
    at.run()
    assert_clean(at)
    probs, labels = runs.load_probs(trained.runs_dir / "20250102-000000-fake")
    assert at.session_state["review_image"] == int(find_suspects(probs, labels).order[0])
    assert "Run 20250102-000000-fake" in at.caption[0].value


def test_bad_link_values_get_warnings_not_tracebacks(trained, env):
    at = open_page(run=trained.run_id, **{"class": "seven"}, threshold="7", image="99999")
    assert_clean(at)
    warnings = " ".join(w.value for w in at.warning)
    for part in ("class='seven' in the link", "threshold='7' in the link", "Image '99999' from the link"):
        assert part in warnings
    assert at.session_state["review_class"] is None and at.slider(key="review_threshold").value == 1.0
    assert at.session_state["review_image"] == int(trained.suspects.order[0])
    at = open_page(run=trained.run_id, image="abc")
    assert_clean(at)
    assert any("Image 'abc' from the link is not in this queue" in w.value for w in at.warning)


def test_verdicts_are_saved_and_each_session_sees_the_others(trained, env):
    s = trained.suspects
    image = int(s.order[0])
    given = int(s.labels[image])
    corrected = (given + 1) % 10
    alice = open_page("alice", run=trained.run_id, image=str(image))
    alice.selectbox(key="review_corrected").set_value(corrected)
    alice.text_input(key="review_note").input("looks like a different digit")
    alice.button(key="review_label_wrong").click().run()
    assert_clean(alice)
    store = ReviewStore(env)
    [v] = store.history(trained.run_id)
    assert (v.index, v.reviewer, v.verdict, v.corrected_label, v.note, v.data) == (
        image, "alice", "label_wrong", corrected, "looks like a different digit", "mnist-sample")
    assert alice.session_state["review_image"] == int(s.order[1])  # on to the next unreviewed image
    assert alice.text_input(key="review_note").value == ""
    assert "1 reviewed / 1000 in queue" in alice.get("progress")[0].proto.text

    bob = open_page("bob", run=trained.run_id, image=str(image))
    assert any(f"alice's latest verdict: label is wrong → {corrected} (looks like a different digit)"
               in unescaped(i.value) for i in bob.info)
    bob.button(key="review_fine").click().run()
    assert [(v.reviewer, v.verdict) for v in store.history(trained.run_id, image)] == [
        ("alice", "label_wrong"), ("bob", "fine")]

    alice.button(key="review_prev").click().run()  # back to the image: bob's verdict is the latest now
    assert alice.session_state["review_image"] == image
    assert any("bob's latest verdict: fine" in i.value for i in alice.info)
    queue = alice.dataframe[1].value
    assert queue.loc[queue["image"] == image, ["verdict", "by"]].values.tolist() == [["fine", "bob"]]
    assert {b.key for b in alice.download_button} == {
        "review_download_csv", "review_download_json", "review_download_corrections"}


def test_without_a_reviewer_name_no_verdict_can_be_given(trained, env):
    at = open_page(None, run=trained.run_id)
    assert_clean(at)
    for key in ("review_label_wrong", "review_ambiguous", "review_model_wrong", "review_fine"):
        assert at.button(key=key).disabled
    assert any("Enter your name in the sidebar" in w.value for w in at.warning)


def test_an_unreachable_database_is_a_clear_error(trained, env, monkeypatch):
    monkeypatch.setenv("MNIST_REVIEW_DB", "postgresql://team:pw@127.0.0.1:1/reviews")
    at = open_page(run=trained.run_id)
    assert not at.exception
    message = unescaped(at.error[0].value)
    assert "Cannot open the review database (the PostgreSQL database 'reviews')" in message
    assert "team" not in message and "pw" not in message


def sidebar_script():
    import streamlit as st

    from ui.reviewer import reviewer_sidebar

    with st.sidebar:
        st.write(f"reviewer={reviewer_sidebar()!r}")


def test_the_reviewer_is_asked_once_or_taken_from_the_login():
    at = AppTest.from_function(sidebar_script).run()
    at.text_input(key="review_reviewer").input("  Carol ").run()
    assert at.session_state["reviewer_name"] == "Carol"
    assert at.sidebar.markdown[0].value == "reviewer='Carol'"
    at.run()  # kept for the session
    assert at.session_state["reviewer_name"] == "Carol"

    logged_in = AppTest.from_function(sidebar_script)
    logged_in.secrets = {"auth": {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32}}
    logged_in.user = {"is_logged_in": True, "name": "Dana Scully", "email": "dana@example.com"}
    logged_in.run()
    assert not logged_in.text_input and logged_in.session_state["reviewer_name"] == "dana@example.com"


def test_the_app_routes_to_the_review_page(trained, env):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["run"] = trained.run_id
    at.run()
    assert_clean(at)
    assert at.sidebar.text_input(key="review_reviewer").value == ""  # app.py asks for the reviewer's name
    at.sidebar.text_input(key="review_reviewer").set_value("erin")
    at.switch_page("app_pages/review.py").run()
    assert_clean(at)
    assert f"Run {trained.run_id}" in at.caption[0].value and "reviewing as erin" in at.caption[0].value
    assert not at.button(key="review_fine").disabled
