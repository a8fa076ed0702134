"""App tests (AppTest through app.py) of what a page keeps and says: a filter change goes to page 1, the
reviewer's name survives a reload through ?reviewer=, a bad ?run= is named in a notice, a verdict for a run
deleted meanwhile is refused, and user-typed text is shown as typed (escaped Markdown).

    python -m pytest -q tests/test_page_state.py
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import unescaped
from fake_run import make_fake_run
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.data import DIGITS, load_dataset
from mnist_core.review.store import ReviewStore
from ui.text import md_escape

APP = str(Path(__file__).resolve().parent.parent / "app.py")
HOSTILE = "![x](http://127.0.0.1:9/beacon) <img src=x> **bold** :red[red]"


@pytest.fixture(scope="module")
def test_labels() -> np.ndarray:
    return load_dataset("mnist-sample").test_labels.numpy()


@pytest.fixture
def lab(tmp_path, monkeypatch, test_labels):
    """Two fake finished runs on mnist-sample (no training); the app pointed at them."""
    rng = np.random.default_rng(0)
    probs = 0.8 * rng.dirichlet(np.ones(10) * 0.3, size=len(test_labels))
    probs[np.arange(len(test_labels)), test_labels] += 0.2  # 28% right: above chance (a run that did not learn
    made = [make_fake_run(tmp_path / "runs", probs, test_labels,  # is never the default), with many mistakes
                          DIGITS, data="mnist-sample", run_id=run_id)
            for run_id in ("20250101-000000-aaaa", "20250102-000000-bbbb")]
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MNIST_REVIEW_DB", f"sqlite:///{tmp_path / 'reviews.db'}")
    return made


def not_markup(markdown: str) -> bool:
    """No Markdown/HTML/Streamlit syntax character is left unescaped."""
    return re.search(r"(?<!\\)[!\[\]()<>*_`:$~|]", markdown) is None


def test_md_escape_leaves_no_markup():
    for text in (HOSTILE, "- a list?", "1. one", "# title", "a\nb", "&lt;", "`code`", "$x$", "~~s~~"):
        escaped = md_escape(text)
        assert not_markup(escaped) and "\n" not in escaped
        assert unescaped(escaped) == text.replace("\n", " ")
    assert md_escape("20261201-223805-fe61 mnist-sample") == "20261201-223805-fe61 mnist-sample"
    # GitHub autolinks are found after escapes are resolved: what is left must not look like a URL or email
    resolved = re.sub(r"\\(.)", r"\1", md_escape("see HTTP://a.b/c, www.d.org or e@f.com"))
    assert re.search(r"(?i)https?://|www\.|\w@", resolved) is None


def app(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    return at


def shown(at: AppTest, kinds=("markdown", "caption", "info", "success", "error", "warning")) -> str:
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_a_filter_or_order_change_goes_to_the_first_page(lab):
    at = app().run()
    at.switch_page("app_pages/predictions.py").run()
    for key, value in (("pred_outcome", "wrong"), ("pred_sort", "confidence ascending"), ("pred_true", "3"),
                       ("pred_pred", "5")):
        at.number_input(key="pred_page").set_value(3).run()
        assert at.number_input(key="pred_page").value == 3
        widget = at.radio(key=key) if key == "pred_outcome" else at.selectbox(key=key)
        widget.set_value(value).run()
        assert not at.exception
        assert at.number_input(key="pred_page").value == 1, key
        assert at.query_params["page"] == "1"


def test_the_reviewer_name_survives_a_reload_through_the_url(lab):
    at = app().run()
    at.sidebar.text_input(key="review_reviewer").input("Ada Lovelace").run()
    assert at.query_params["reviewer"] == "Ada Lovelace"
    at.switch_page("app_pages/review.py").run()  # another page keeps it in the link
    assert at.query_params["reviewer"] == "Ada Lovelace"

    reloaded = app(**{k: v for k, v in at.query_params.items()}).run()  # a new session from the same address
    assert reloaded.sidebar.text_input(key="review_reviewer").value == "Ada Lovelace"
    reloaded.switch_page("app_pages/review.py").run()
    assert not reloaded.button(key="review_fine").disabled
    assert "reviewing as Ada Lovelace" in unescaped(reloaded.caption[0].value)

    cleared = app(reviewer="Ada").run()
    cleared.sidebar.text_input(key="review_reviewer").input("").run()
    assert "reviewer" not in cleared.query_params
    bad = app(reviewer="tab\there").run()  # not a valid name: ignored, not shown
    assert bad.sidebar.text_input(key="review_reviewer").value == ""


def test_a_login_replaces_the_name_from_the_url(lab):
    at = app(reviewer="Ada")
    at.secrets = {"auth": {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32}}
    at.user = {"is_logged_in": True, "name": "Dana Scully", "email": "dana@example.com"}
    at.run()
    assert not at.sidebar.text_input and "reviewer" not in at.query_params
    assert at.session_state["reviewer_name"] == "dana@example.com"  # the login's email, not its display name


def test_a_bad_run_in_the_link_is_named_not_swapped_silently(lab):
    bad = "nope<img src=x>![b](http://127.0.0.1:9/b)"
    at = app(run=bad).run()
    assert not at.exception
    [notice] = at.warning
    assert unescaped(notice.value) == (f"Run {bad!r} is not a finished run here (mistyped, still training, or "
                                       f"deleted); showing run {lab[1].name} instead.")
    assert "\\<img" in notice.value and "\\!\\[b\\]" in notice.value  # escaped: shown as typed, never fetched
    assert at.query_params["run"] == lab[1].name
    at.run()  # said once: the link now names the run shown
    assert not at.warning
    good = app(run=lab[0].name).run()
    assert not good.warning and good.sidebar.selectbox(key="sidebar_run").value == lab[0].name


def test_a_verdict_for_a_run_deleted_meanwhile_is_refused(lab, tmp_path):
    at = app(run=lab[0].name, reviewer="alice").run()
    at.switch_page("app_pages/review.py").run()
    assert not at.button(key="review_fine").disabled
    runs.delete_run(lab[0])  # e.g. from the Train page in another tab
    at.button(key="review_fine").click().run()
    assert not at.exception
    errors = [unescaped(e.value) for e in at.error]
    assert errors == [f"Verdict not saved: run {lab[0].name} no longer exists (it was deleted while this page "
                      "showed it). Nothing was recorded."]
    assert any(f"Run '{lab[0].name}' is not a finished run here" in unescaped(w.value) for w in at.warning)
    store = ReviewStore(f"sqlite:///{tmp_path / 'reviews.db'}")
    assert store.history(lab[0].name) == [] and store.history(lab[1].name) == []
    assert f"Run {lab[1].name}" in unescaped(at.caption[0].value)  # the page shows the other run, and says so


def test_names_and_notes_are_shown_as_typed(lab, tmp_path):
    store = ReviewStore(f"sqlite:///{tmp_path / 'reviews.db'}")
    store.add(lab[1].name, "mnist-sample", 0, "**mallory**", "fine", note=HOSTILE)
    at = app(run=lab[1].name, reviewer="<b>eve</b>", image="0").run()
    at.switch_page("app_pages/review.py").run()
    assert not at.exception
    [info] = at.info
    assert unescaped(info.value) == f"**mallory**'s latest verdict: fine ({HOSTILE})"
    assert md_escape(HOSTILE) in info.value and not_markup(md_escape(HOSTILE))
    assert "reviewing as <b>eve</b>" in unescaped(at.caption[0].value) and "<b>" not in at.caption[0].value
    history = [t.value for t in at.text]  # the image's history: plain st.text
    assert any(f"**mallory**: fine ({HOSTILE})" in t for t in history)
