"""The review store: reviewers' verdicts on training or test images, in a database through SQLAlchemy 2.x.

By default a SQLite file `<runs dir>/reviews.db` (WAL mode and a busy timeout, so several dashboard
sessions and processes can write at once); any SQLAlchemy URL in env MNIST_REVIEW_DB (or given by the
caller, e.g. the page's st.secrets["review_db"]) instead, e.g. PostgreSQL on a team server:

    MNIST_REVIEW_DB=postgresql://user:pass@host/reviews streamlit run app.py

Verdicts are only ever inserted, never updated: the latest on an image (by time, then id) counts. Each names
its split ("train" or "test"; column `split`); a database made before that column is migrated on opening
(`migrate`: the column added with the default "test", which all earlier verdicts were on), idempotently and
safely when two servers open it at once (the loser of the race finds the column there).
"""
from __future__ import annotations

import datetime as dt
import numbers
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

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
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

ENV_DB = "MNIST_REVIEW_DB"
DB_FILENAME = "reviews.db"
VERDICTS = {"label_wrong": "label is wrong", "ambiguous": "ambiguous", "model_wrong": "model is wrong",
            "fine": "fine"}
MAX_REVIEWER, MAX_NOTE = 120, 2000
SPLITS = {"train": "training", "test": "test"}  # split -> its name in messages
SQLITE_BUSY_MS = 30_000

metadata = MetaData()
verdicts = Table(
    "review_verdicts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(200), nullable=False),
    Column("dataset", String(200), nullable=False),
    Column("sample_index", Integer, nullable=False),
    Column("reviewer", String(MAX_REVIEWER), nullable=False),
    Column("verdict", String(20), nullable=False),
    Column("corrected_label", Integer, nullable=True),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Last, as ALTER TABLE ... ADD COLUMN puts it in a migrated database; the server default keeps old rows test.
    Column("split", String(10), nullable=False, server_default="test"),
    Index("ix_review_verdicts_run_sample", "run_id", "sample_index"),
)
# Verdict field -> its column, where they differ: the columns keep their first names, so databases made
# before the vocabulary settled (the data source `data`, the image's position `index`) keep working.
COLUMN_OF = {"data": "dataset", "index": "sample_index"}
FIELD_OF = {column: field for field, column in COLUMN_OF.items()}


class ReviewStoreError(RuntimeError):
    """The review database cannot be opened or used; the message says which and why (never the password)."""


class VerdictError(ValueError):
    """A verdict has a bad field; the message names it."""


@dataclass(frozen=True)
class Verdict:
    id: int
    run_id: str
    data: str  # the data source the run was trained and evaluated on
    index: int  # the image's position in the test split
    reviewer: str
    verdict: str
    corrected_label: int | None
    note: str
    created_at: dt.datetime  # UTC
    split: str = "test"  # "train" or "test": the split `index` counts in


def default_db_url(runs_dir: Path | str) -> str:
    return f"sqlite:///{Path(runs_dir).resolve() / DB_FILENAME}"


def configured_db_url(runs_dir: Path | str, fallback: str | None = None) -> str:
    """Env MNIST_REVIEW_DB, else `fallback` (e.g. a Streamlit secret), else the SQLite file in the runs dir."""
    return os.environ.get(ENV_DB) or fallback or default_db_url(runs_dir)


def shown_url(url: str) -> str:
    """The database as a visitor may see it in a caption or message: its kind and name, never a password, a
    user, a host or a server path ("the SQLite file reviews.db", "the PostgreSQL database 'reviews'")."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<not a database URL>"
    backend, name = parsed.get_backend_name(), parsed.database
    kind = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL"}.get(backend, backend)
    where = f"file {Path(name or '').name}" if backend == "sqlite" else f"database {name!r}"
    return f"the {kind} {where}" if name else f"a {kind} database"


def check_verdict(index, reviewer, verdict, corrected_label=None, note: str = "",
                  num_samples: int | None = None, num_classes: int | None = None, split: str = "test") -> dict:
    """The cleaned fields of one verdict, or VerdictError naming the first bad one."""
    if split not in SPLITS:
        raise VerdictError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if not _is_index(index):
        raise VerdictError(f"image index must be an integer >= 0, got {index!r}")
    if num_samples is not None and index >= num_samples:
        raise VerdictError(f"image index {index} is out of range: the {SPLITS[split]} set has {num_samples} images")
    index = int(index)
    reviewer = clean_reviewer(reviewer)
    if not reviewer:
        raise VerdictError("a reviewer name is required: enter your name in the sidebar")
    if verdict not in VERDICTS:
        raise VerdictError(f"unknown verdict {verdict!r}; allowed: {', '.join(VERDICTS)}")
    if verdict == "label_wrong":
        if not _is_index(corrected_label):
            raise VerdictError("'label is wrong' needs the corrected label (an integer class index >= 0)")
        corrected_label = int(corrected_label)
        if num_classes is not None and corrected_label >= num_classes:
            raise VerdictError(f"corrected label {corrected_label} is out of range: there are {num_classes} classes")
    elif corrected_label is not None:
        raise VerdictError(f"a corrected label only goes with 'label_wrong', not with {verdict!r}")
    note = (note or "").strip()
    if len(note) > MAX_NOTE or not note.isprintable():
        raise VerdictError(f"note must be one line of at most {MAX_NOTE} printable characters")
    return dict(index=index, reviewer=reviewer, verdict=verdict, corrected_label=corrected_label,
                note=note, split=split)


def clean_reviewer(name) -> str:
    """A reviewer's name without surrounding spaces ('' for none), or VerdictError for one that is too long or
    not one line of printable characters (it comes from a text box or a link's ?reviewer=)."""
    name = name.strip() if isinstance(name, str) else ""
    if len(name) > MAX_REVIEWER or not name.isprintable():
        raise VerdictError(f"reviewer name must be one line of at most {MAX_REVIEWER} printable characters")
    return name


def _is_index(value) -> bool:
    """An integer >= 0 (numpy integers too), but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def latest_by_image(history: list[Verdict]) -> dict[int, Verdict]:
    """Image index -> the verdict that counts: the latest by time, ties broken by the higher id.

    Indices count within one split: give it the history of one split (ReviewStore.history's `split`)."""
    latest: dict[int, Verdict] = {}
    for v in sorted(history, key=lambda v: (v.created_at, v.id)):
        latest[v.index] = v
    return latest


class ReviewStore:
    """Verdicts in one database; safe to share between threads (one SQLAlchemy engine with a pool)."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = make_engine(url)
            create_tables(self.engine)
            migrate(self.engine)
        except (SQLAlchemyError, ImportError, OSError) as exc:
            raise ReviewStoreError(f"Cannot open the review database ({shown_url(url)}): {_reason(exc)}") from exc

    def add(self, run_id: str, data: str, index: int, reviewer: str, verdict: str,
            corrected_label: int | None = None, note: str = "", num_samples: int | None = None,
            num_classes: int | None = None, split: str = "test") -> Verdict:
        """Record one verdict (never replacing earlier ones) and return it with its id and time."""
        fields = check_verdict(index, reviewer, verdict, corrected_label, note, num_samples, num_classes, split)
        row = dict(fields, run_id=run_id, data=data, created_at=dt.datetime.now(dt.timezone.utc))
        columns = {COLUMN_OF.get(name, name): value for name, value in row.items()}
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(insert(verdicts).values(**columns)).inserted_primary_key[0]
        except SQLAlchemyError as exc:
            raise ReviewStoreError(f"Could not save the verdict in {shown_url(self.url)}: {_reason(exc)}") from exc
        return Verdict(id=int(new_id), **row)

    def history(self, run_id: str, index: int | None = None, split: str | None = "test") -> list[Verdict]:
        """All verdicts on a run's images of one split (or one of its images), oldest first; split=None: both
        splits (then an index alone does not name one image)."""
        query = select(verdicts).where(verdicts.c.run_id == run_id)
        if split is not None:
            query = query.where(verdicts.c.split == split)
        if index is not None:
            query = query.where(verdicts.c.sample_index == index)
        query = query.order_by(verdicts.c.created_at, verdicts.c.id)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
        except SQLAlchemyError as exc:
            raise ReviewStoreError(f"Could not read verdicts from {shown_url(self.url)}: {_reason(exc)}") from exc
        return [Verdict(**{FIELD_OF.get(column, column): value for column, value in row.items()}
                        | {"created_at": _as_utc(row["created_at"])}) for row in rows]

    def latest(self, run_id: str, split: str = "test") -> dict[int, Verdict]:
        return latest_by_image(self.history(run_id, split=split))

    def close(self) -> None:
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    """An engine for `url`: SQLite gets WAL and a busy timeout; plain postgresql:// uses psycopg (v3)."""
    parsed: URL = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # requirements.txt ships psycopg, not psycopg2
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)  # team servers drop idle connections
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")  # wait for other writers instead of failing
        _set_wal(cursor)  # readers never block the writer, nor it them
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def _set_wal(cursor) -> None:
    """WAL mode, once per database file. Switching needs the file to itself and SQLite answers "locked" at once
    (busy_timeout does not cover it) when another process opens a new file at that moment: wait and retry."""
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def create_tables(engine: Engine) -> None:
    """Create the table and index if missing; tolerate another process creating them at the same moment."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except DBAPIError:
        if not inspect(engine).has_table(verdicts.name):
            raise


def migrate(engine: Engine) -> None:
    """Bring a database made by an older version up to this table: add the `split` column (default "test")
    when it is missing. Idempotent; when two processes migrate at once, one ALTER wins and the other's error is
    ignored once the column is found there."""
    if _has_split(engine):
        return
    # PostgreSQL checks IF NOT EXISTS under the table's lock, so concurrent servers never both add it; SQLite
    # has no IF NOT EXISTS here, and its losing writer gets "duplicate column name" instead.
    guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
    try:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {verdicts.name} ADD COLUMN {guard}split VARCHAR(10) "
                              "NOT NULL DEFAULT 'test'"))
    except DBAPIError:
        if not _has_split(engine):
            raise


def _has_split(engine: Engine) -> bool:
    return "split" in {c["name"] for c in inspect(engine).get_columns(verdicts.name)}


def _as_utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, NoSuchModuleError | ImportError):
        return f"the database driver is not installed ({exc}); pip install -r requirements.txt"
    if isinstance(exc, ArgumentError):
        return f"not a database URL ({exc})"
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
