"""The review store's migration to the `split` column: a database made before it (SQLite file or PostgreSQL) keeps
every verdict, as a test verdict; opening is idempotent; two servers opening the old database at once both work.

    python -m pytest tests/test_review_migration.py -q
    MNIST_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/db python -m pytest tests/test_review_migration.py

The PostgreSQL cases make (and drop) a database of their own on MNIST_TEST_POSTGRES_URL's server, so the old
table starts from nothing; they skip unless it is set (.ci/run starts a server and sets it; locally
`. .ci/postgres.sh`).
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
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    text,
)
from sqlalchemy.engine import make_url

from mnist_core.review.export import review_corrections
from mnist_core.review.store import ReviewStore, VerdictError, default_db_url, make_engine

REPO = Path(__file__).resolve().parent.parent

# The table exactly as the store made it before the split column (git show 10e8f57:mnist_core/review/store.py).
old_metadata = MetaData()
old_verdicts = Table(
    "review_verdicts", old_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(200), nullable=False),
    Column("dataset", String(200), nullable=False),
    Column("sample_index", Integer, nullable=False),
    Column("reviewer", String(120), nullable=False),
    Column("verdict", String(20), nullable=False),
    Column("corrected_label", Integer, nullable=True),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_review_verdicts_run_sample", "run_id", "sample_index"),
)
T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
OLD_ROWS = [dict(run_id="run-a", dataset="mnist", sample_index=i, reviewer=f"r{i % 3}",
                 verdict="label_wrong" if i % 2 else "fine", corrected_label=(i * 7) % 10 if i % 2 else None,
                 note=f"note {i}", created_at=T0 + dt.timedelta(seconds=i)) for i in range(50)]
OLD_ROWS += [dict(run_id="run-b", dataset="mnist", sample_index=3, reviewer="ann", verdict="ambiguous",
                  corrected_label=None, note="", created_at=T0)]


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request, tmp_path):
    """The URL of a database holding the old table with OLD_ROWS."""
    if request.param == "sqlite":
        url = default_db_url(tmp_path)
        yield _fill_old(url)
        return
    server = os.environ.get("MNIST_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("MNIST_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against (.ci/run starts one)")
    name = f"mnist_migration_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield _fill_old(make_url(server).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def _fill_old(url: str) -> str:
    engine = make_engine(url)
    old_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(old_verdicts), OLD_ROWS)
    engine.dispose()
    return url


def _old_fields(v) -> dict:
    return dict(run_id=v.run_id, dataset=v.data, sample_index=v.index, reviewer=v.reviewer, verdict=v.verdict,
                corrected_label=v.corrected_label, note=v.note, created_at=v.created_at)


def test_opening_an_old_database_keeps_every_verdict_as_a_test_verdict(old_db):
    store = ReviewStore(old_db)
    kept = store.history("run-a") + store.history("run-b")
    assert [_old_fields(v) for v in kept] == OLD_ROWS  # every field of every row, in order
    assert {v.split for v in kept} == {"test"}
    assert [v.id for v in store.history("run-a", split=None)] == list(range(1, 51))
    # The migrated table takes train verdicts, kept apart from the test ones with the same index.
    train = store.add("run-a", "mnist", 3, "bob", "label_wrong", 5, split="train", num_samples=60_000)
    assert train.split == "train" and store.history("run-a", split="train") == [train]
    assert store.latest("run-a")[3].verdict == "label_wrong" and store.latest("run-a")[3].corrected_label == 1
    assert store.latest("run-a", split="train") == {3: train}
    fixes = review_corrections(store.history("run-a", split=None), "mnist")
    assert fixes[("train", 3)] == 5 and fixes[("test", 3)] == 1 and len(fixes) == 26
    store.close()


def test_the_migration_is_idempotent_and_a_new_store_never_alters(old_db):
    ReviewStore(old_db).close()
    again = ReviewStore(old_db)  # the column is there: nothing to do, nothing lost or doubled
    assert len(again.history("run-a")) == 50 and len(again.history("run-a", split=None)) == 50
    columns = [c["name"] for c in inspect(again.engine).get_columns("review_verdicts")]
    assert columns.count("split") == 1 and columns[-1] == "split"
    again.close()


OPENER = """
import sys, time
from pathlib import Path
from mnist_core.review.store import ReviewStore
url, go, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
while not go.exists():
    time.sleep(0.001)
store = ReviewStore(url)  # both migrate the old table at the same moment
store.add("run-a", "mnist", 7, name, "fine", split="train")
print(len(store.history("run-a")))
"""


def test_two_servers_opening_an_old_database_at_once_both_migrate_it(old_db, tmp_path):
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    openers = [subprocess.Popen([sys.executable, "-c", OPENER, old_db, str(go), name], env=env, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("s1", "s2")]
    time.sleep(1.5)  # both imported and waiting at the start line
    go.touch()
    for opener in openers:
        out, err = opener.communicate(timeout=120)
        assert opener.returncode == 0, err
        assert out.strip() == "50"
    store = ReviewStore(old_db)
    assert len(store.history("run-a")) == 50
    assert sorted(v.reviewer for v in store.history("run-a", split="train")) == ["s1", "s2"]
    store.close()


def test_an_existing_sqlite_file_made_by_the_old_code_is_migrated_in_place(tmp_path):
    """The file as sqlite3 sees it: the column added with its default, the rows and the index untouched."""
    url = _fill_old(default_db_url(tmp_path))
    ReviewStore(url).close()
    with sqlite3.connect(tmp_path / "reviews.db") as conn:
        info = {row[1]: row for row in conn.execute("PRAGMA table_info(review_verdicts)")}
        assert info["split"][3] == 1 and info["split"][4] == "'test'"  # NOT NULL DEFAULT 'test'
        assert conn.execute("SELECT count(*), min(split), max(split) FROM review_verdicts").fetchone() == (51, "test",
                                                                                                           "test")
        assert "ix_review_verdicts_run_sample" in {r[1] for r in conn.execute("PRAGMA index_list(review_verdicts)")}


def test_a_verdict_with_a_bad_split_is_refused(tmp_path):
    store = ReviewStore(default_db_url(tmp_path))
    with pytest.raises(VerdictError, match="split must be one of train, test"):
        store.add("run", "mnist", 1, "ann", "fine", split="validation")
    with pytest.raises(VerdictError, match="out of range: the training set has 4000 images"):
        store.add("run", "mnist", 4000, "ann", "fine", split="train", num_samples=4000)
    assert store.history("run", split=None) == []
