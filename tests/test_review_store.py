"""The review store: history and latest-verdict semantics, validation, concurrent writers, SQLite and PostgreSQL.

    python -m pytest tests/test_review_store.py -q
    MNIST_TEST_POSTGRES_URL=postgresql://user:pass@127.0.0.1:5432/db python -m pytest tests/test_review_store.py

The PostgreSQL cases skip unless MNIST_TEST_POSTGRES_URL is set (.ci/run starts a server and sets it).
"""
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import insert

from mnist_core.review.store import (
    ReviewStore,
    ReviewStoreError,
    VerdictError,
    configured_db_url,
    default_db_url,
    shown_url,
    verdicts,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return default_db_url(tmp_path)
    url = os.environ.get("MNIST_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("MNIST_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against (.ci/run starts one)")
    return url


@pytest.fixture
def run_id():
    return f"run-{uuid.uuid4().hex[:8]}"  # a fresh run per test: a PostgreSQL database outlives the test


def test_history_is_kept_and_the_latest_verdict_counts(db_url, run_id):
    store = ReviewStore(db_url)
    first = store.add(run_id, "mnist", 7, "alice", "label_wrong", 1, "a 1?")
    second = store.add(run_id, "mnist", 7, "bob", "ambiguous", note="could be 7")
    third = store.add(run_id, "mnist", 7, " alice ", "label_wrong", 4, " looks like a 4 ")
    other = store.add(run_id, "mnist", 8, "bob", "fine")
    store.add(f"{run_id}-other", "mnist", 7, "carol", "model_wrong")

    history = store.history(run_id)
    assert [v.id for v in history] == [first.id, second.id, third.id, other.id]
    assert [v.verdict for v in store.history(run_id, 7)] == ["label_wrong", "ambiguous", "label_wrong"]
    assert (third.reviewer, third.corrected_label, third.note) == ("alice", 4, "looks like a 4")
    latest = store.latest(run_id)
    assert set(latest) == {7, 8}
    assert latest[7] == third and latest[8] == other
    assert latest[7].created_at.tzinfo is not None
    store.close()


def test_latest_is_by_time_with_ties_broken_by_id(db_url, run_id):
    store = ReviewStore(db_url)
    t = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    rows = [dict(sample_index=1, reviewer="a", verdict="fine", created_at=t),
            dict(sample_index=1, reviewer="b", verdict="ambiguous", created_at=t),  # same time, higher id: wins
            dict(sample_index=2, reviewer="a", verdict="fine", created_at=t),
            dict(sample_index=2, reviewer="b", verdict="ambiguous", created_at=t - dt.timedelta(seconds=1))]
    with store.engine.begin() as conn:
        for row in rows:
            conn.execute(insert(verdicts).values(run_id=run_id, dataset="mnist", corrected_label=None, note="", **row))
    latest = store.latest(run_id)
    assert (latest[1].reviewer, latest[1].verdict) == ("b", "ambiguous")
    assert (latest[2].reviewer, latest[2].verdict) == ("a", "fine")  # the later time wins over the higher id
    store.close()


@pytest.mark.parametrize("kwargs, message", [
    (dict(index=-1), "image index"),
    (dict(index=1000), "out of range: the test set has 1000"),
    (dict(reviewer="  "), "reviewer name is required"),
    (dict(reviewer="a\nb"), "one line"),
    (dict(verdict="wrong"), "unknown verdict 'wrong'"),
    (dict(verdict="label_wrong"), "needs the corrected label"),
    (dict(verdict="label_wrong", corrected_label=10), "corrected label 10 is out of range"),
    (dict(corrected_label=3), "only goes with 'label_wrong'"),
    (dict(note="x" * 2001), "note must be one line"),
])
def test_bad_verdicts_are_refused_and_nothing_is_written(tmp_path, kwargs, message):
    store = ReviewStore(default_db_url(tmp_path))
    args = dict(index=5, reviewer="alice", verdict="fine", num_samples=1000, num_classes=10) | kwargs
    with pytest.raises(VerdictError, match=message):
        store.add("run", "mnist", **args)
    assert store.history("run") == []


def test_malformed_or_unreachable_databases_get_a_clear_error_without_the_password():
    with pytest.raises(ReviewStoreError, match="not a database URL"):
        ReviewStore("not a url")
    with pytest.raises(ReviewStoreError) as info:
        ReviewStore("postgresql://reviewer:s3cret@127.0.0.1:1/reviews")
    assert "Cannot open the review database (the PostgreSQL database 'reviews')" in str(info.value)
    assert "s3cret" not in str(info.value) and "reviewer:" not in str(info.value)


def test_a_database_is_shown_by_kind_and_name_never_by_server_path_or_user():
    assert shown_url("sqlite:////srv/team/runs/reviews.db") == "the SQLite file reviews.db"
    assert shown_url("postgresql+psycopg://bob:pw@db.internal:5432/lab") == "the PostgreSQL database 'lab'"
    assert shown_url("sqlite://") == "a SQLite database"


def test_default_database_is_a_sqlite_file_in_the_runs_dir_in_wal_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_REVIEW_DB", raising=False)
    runs_dir = tmp_path / "runs"
    assert configured_db_url(runs_dir) == f"sqlite:///{runs_dir.resolve() / 'reviews.db'}"
    assert configured_db_url(runs_dir, "sqlite:///from-secrets.db") == "sqlite:///from-secrets.db"
    monkeypatch.setenv("MNIST_REVIEW_DB", "sqlite:///from-env.db")
    assert configured_db_url(runs_dir, "sqlite:///from-secrets.db") == "sqlite:///from-env.db"

    ReviewStore(default_db_url(runs_dir)).add("run", "mnist", 0, "alice", "fine")
    with sqlite3.connect(runs_dir / "reviews.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM review_verdicts").fetchone()[0] == 1


WRITER = """
import sys, time
from pathlib import Path
from mnist_core.review.store import ReviewStore
url, run_id, reviewer, go = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
store = ReviewStore(url)  # both writers also create the tables at the same moment
while not go.exists():
    time.sleep(0.001)
for i in range(200):
    store.add(run_id, "mnist", i, reviewer, "label_wrong" if i % 2 else "fine", i % 10 if i % 2 else None, f"n{i}")
"""


def test_two_processes_writing_at_once_lose_nothing(db_url, run_id, tmp_path):
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, db_url, run_id, name, str(go)], env=env, cwd=REPO,
                                stderr=subprocess.PIPE, text=True) for name in ("alice", "bob")]
    time.sleep(1.0)  # let both connect and wait at the start line
    go.touch()
    for w in writers:
        _, err = w.communicate(timeout=180)
        assert w.returncode == 0, err
    store = ReviewStore(db_url)
    history = store.history(run_id)
    assert len(history) == 400
    assert len({v.id for v in history}) == 400
    assert {(v.reviewer, v.index) for v in history} == {(r, i) for r in ("alice", "bob") for i in range(200)}
    assert all(v.corrected_label == (v.index % 10 if v.index % 2 else None) for v in history)
    assert len(store.latest(run_id)) == 200
    store.close()
