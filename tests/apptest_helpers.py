"""Helpers for the app tests of the Probabilities, Compare and Network views: open a page of app.py with URL
parameters and session values, and read what it shows.

    from apptest_helpers import all_text, open_app, table_with, unescaped
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from mnist_core import runs

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_app(data_dir: Path, runs_dir: Path, monkeypatch, page: str, session: dict | None = None,
             **params) -> AppTest:
    """app.py run once (sidebar, URL read), then switched to `page`; fails on an exception."""
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(**params)
    for key, value in (session or {}).items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def all_text(at: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "success", "error", "warning", "subheader")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def table_with(at: AppTest, column: str):
    """The first table with this column (st.dataframe without selections carries no key to find it by)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def started_run(runs_dir: Path, timeout_s: float = 120.0) -> runs.RunInfo:
    """The one run the page started, once its worker has ended (or the timeout passed)."""
    [info] = runs.list_runs(runs_dir)
    deadline = time.time() + timeout_s
    while info.status == "running" and time.time() < deadline:
        time.sleep(0.5)
        info = runs.read_run(info.path)
    return info


def unescaped(markdown: str) -> str:
    """What a Markdown string escaped by ui.text.md_escape shows: its backslash escapes (and the invisible word
    joiners that keep URLs from becoming links) removed."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")
