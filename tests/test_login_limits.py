"""Login on (an [auth] secret, a logged-in st.user): who may review, start, import and delete, and the per-identity
limits on runs and datasets, through app.py with AppTest and on the core functions themselves.

    python -m pytest -q tests/test_login_limits.py

The login itself (st.login against a real OpenID Connect provider) is tests/browser/test_login.py.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from apptest_helpers import unescaped
from dataset_files import shape_zip
from fake_run import make_fake_run
from streamlit.testing.v1 import AppTest

from mnist_core import quotas, runs, transfer
from mnist_core.config import TrainConfig
from mnist_core.data import default_datasets_dir, load_dataset
from mnist_core.launch import start_worker
from mnist_core.own_data import datasets
from mnist_core.review.store import ReviewStore, default_db_url

APP = str(Path(__file__).resolve().parent.parent / "app.py")
AUTH = {"auth": {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "a-test-cookie-secret-0123",
                 "client_id": "mnist-lab", "client_secret": "unused",
                 "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}}
ADA, BOB = "ada@example.com", "bob@example.com"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    data_dir, runs_dir = tmp_path / "data", tmp_path / "runs"
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("MNIST_ADMINS", f" Admin@Example.com ,{BOB}")
    for name in ("MNIST_MAX_RUNS_PER_USER", "MNIST_MAX_DATASETS_PER_USER", "MNIST_REVIEW_DB"):
        monkeypatch.delenv(name, raising=False)
    return data_dir, runs_dir


def app(page: str = "app_pages/train.py", email: str | None = ADA, login: bool = True) -> AppTest:
    """app.py with login configured (unless `login` is False), `email` logged in (None: logged out), on `page`."""
    at = AppTest.from_file(APP, default_timeout=120)
    if login:
        at.secrets = dict(AUTH)
        at.user = {"is_logged_in": True, "email": email, "name": "Someone"} if email else {"is_logged_in": False}
    at.run()
    if page != "app_pages/train.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def owned_run(runs_dir: Path, owner: str) -> Path:
    run_dir = runs.create_run(runs_dir, TrainConfig(data="mnist-sample", epochs=1), owner=owner)
    runs.set_status(run_dir, "finished", test_accuracy=0.9, pid=None)
    return run_dir


# --- the settings ---

def test_admins_are_comma_separated_emails_compared_without_case():
    env = {"MNIST_ADMINS": " Admin@Example.com, ,bob@example.com "}
    assert quotas.admins(env) == {"admin@example.com", "bob@example.com"}
    assert quotas.is_admin("ADMIN@example.COM", env) and not quotas.is_admin("ada@example.com", env)
    assert not quotas.is_admin("", env) and not quotas.is_admin("x@y.z", {})


def test_limits_default_parse_and_refuse_nonsense():
    assert (quotas.max_runs({}), quotas.max_datasets({})) == (20, 10)
    assert quotas.max_runs({"MNIST_MAX_RUNS_PER_USER": "0"}) == 0  # no limit
    with pytest.raises(ValueError, match="MNIST_MAX_DATASETS_PER_USER must be a whole number >= 0"):
        quotas.max_datasets({"MNIST_MAX_DATASETS_PER_USER": "-3"})


# --- the core: owners recorded, limits refuse before anything is made ---

def test_a_runs_owner_is_in_status_json_not_in_the_training_config(dirs):
    run_dir = owned_run(dirs[1], ADA)
    assert json.loads((run_dir / "status.json").read_text())["owner"] == ADA
    assert "owner" not in json.loads((run_dir / "config.json").read_text())
    assert runs.read_run(run_dir).owner == ADA
    assert runs.read_run(runs.create_run(dirs[1], TrainConfig(data="mnist-sample"))).owner == ""  # CLI: nobody


def test_a_start_over_the_run_limit_is_refused_and_creates_nothing(dirs, monkeypatch):
    monkeypatch.setenv("MNIST_MAX_RUNS_PER_USER", "2")
    for _ in range(2):
        owned_run(dirs[1], "ADA@example.com")  # the same person, whatever the case of the address
    owned_run(dirs[1], BOB)
    before = sorted(p.name for p in dirs[1].iterdir() if not p.name.startswith("."))
    with pytest.raises(quotas.QuotaError, match=r"You have 2 runs on this server, the limit per person "
                                                r"\(MNIST_MAX_RUNS_PER_USER=2\)\. No run was started\."):
        start_worker(TrainConfig(data="mnist-sample", epochs=1), dirs[1], dirs[0], owner=ADA)
    assert sorted(p.name for p in dirs[1].iterdir() if not p.name.startswith(".")) == before


def test_an_import_over_the_dataset_limit_is_refused_and_writes_nothing(dirs, monkeypatch):
    monkeypatch.setenv("MNIST_MAX_DATASETS_PER_USER", "1")
    analysis = datasets.analyse_bytes("a.zip", shape_zip(3))
    datasets.commit(analysis, "adas", imported_by=ADA)
    datasets.commit(analysis, "bobs", imported_by=BOB)
    datasets.commit(analysis, "cli-one")  # the command line: nobody's
    assert {m["name"]: m.get("imported_by") for m in datasets.list_imported()} == {
        "adas": ADA, "bobs": BOB, "cli-one": None}
    with pytest.raises(quotas.QuotaError, match=r"You have imported 1 datasets, the limit per person "
                                                r"\(MNIST_MAX_DATASETS_PER_USER=1\): adas\. Nothing was imported\."):
        datasets.commit(analysis, "another", imported_by=ADA)
    assert sorted(p.name for p in default_datasets_dir().iterdir()) == ["adas", "bobs", "cli-one"]


def test_an_uploaded_model_counts_as_a_run_of_its_owner(dirs, monkeypatch):
    labels = load_dataset("mnist-sample").test_labels.numpy()
    source = make_fake_run(dirs[1], labels=labels)
    model = transfer.export_model(source)
    added = transfer.import_model(model, dirs[1], dirs[0], "m.pt", owner=ADA)
    assert runs.read_run(added).owner == ADA
    monkeypatch.setenv("MNIST_MAX_RUNS_PER_USER", "1")
    count = len(list(dirs[1].iterdir()))
    with pytest.raises(quotas.QuotaError, match="MNIST_MAX_RUNS_PER_USER=1"):
        transfer.import_model(model, dirs[1], dirs[0], "m.pt", owner=ADA)
    assert len(list(dirs[1].iterdir())) == count


# --- the pages ---

def test_logged_out_visitors_cannot_start_import_or_review_and_are_offered_a_login(dirs):
    make_fake_run(dirs[1], labels=load_dataset("mnist-sample").test_labels.numpy())
    at = app(email=None)
    assert "train_start" not in [b.key for b in at.button]
    assert "Log in to start a training run." in texts(at.info)
    assert {"train_login", "auth_login"} <= {b.key for b in at.button}
    assert "review_reviewer" not in [t.key for t in at.text_input]  # no name box: a typed name is no identity
    review = app("app_pages/review.py", email=None)
    assert all(review.button(key=f"review_{v}").disabled for v in ("label_wrong", "ambiguous", "model_wrong", "fine"))
    assert "Log in (in the sidebar) to give verdicts." in texts(review.warning)


def test_a_logged_in_reviewers_verdict_carries_their_email_and_the_sidebar_cannot_change_it(dirs):
    run_dir = make_fake_run(dirs[1], labels=load_dataset("mnist-sample").test_labels.numpy())
    at = app("app_pages/review.py")
    assert "review_reviewer" not in [t.key for t in at.text_input]
    assert f"Logged in as **{ADA}**" in unescaped(" ".join(texts(at.sidebar.caption)))
    assert "auth_logout" in [b.key for b in at.sidebar.button]
    at.button(key="review_fine").click().run()
    assert not at.exception
    [verdict] = ReviewStore(default_db_url(dirs[1])).history(run_dir.name)
    assert (verdict.reviewer, verdict.verdict) == (ADA, "fine")


def test_without_login_the_typed_name_stays_and_the_page_says_it_is_not_verified(dirs):
    make_fake_run(dirs[1], labels=load_dataset("mnist-sample").test_labels.numpy())
    at = app("app_pages/review.py", login=False)
    assert "review_reviewer" in [t.key for t in at.text_input]
    assert any("Names are not verified" in c for c in texts(at.sidebar.caption))
    assert any("(names are not verified)" in c for c in texts(at.caption))
    assert "train_delete_pick" in [s.key for s in app(login=False).selectbox]  # everyone may delete


def test_the_train_page_shows_the_limit_and_starts_nothing(dirs, monkeypatch):
    monkeypatch.setenv("MNIST_MAX_RUNS_PER_USER", "1")
    owned_run(dirs[1], ADA)
    at = app()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert any("You have 1 runs on this server, the limit per person (MNIST_MAX_RUNS_PER_USER=1). No run was "
               "started." in e for e in texts(at.error))
    assert len(runs.list_runs(dirs[1])) == 1
    [table] = [d.value for d in at.dataframe]
    assert list(table["started by"]) == [ADA]


def test_only_admins_may_delete_runs_and_datasets(dirs):
    run_dir = owned_run(dirs[1], ADA)
    datasets.commit(datasets.analyse_bytes("a.zip", shape_zip(3)), "shapes", imported_by=ADA)
    at = app()  # ada: the owner, but not an admin
    assert "train_delete_pick" not in [s.key for s in at.selectbox]
    assert any("Only administrators may delete" in c and "ada@example.com is not one of them" in unescaped(c)
               for c in texts(at.caption))
    data_page = app("app_pages/data.py")
    assert "data_remove_choice" not in [s.key for s in data_page.selectbox]
    assert list(data_page.dataframe[0].value["imported by"]) == [ADA]
    admin = app(email="admin@EXAMPLE.com")
    admin.selectbox(key="train_delete_pick").set_value(run_dir.name).run()
    admin.button(key="train_delete").click().run()
    admin.button(key="train_delete_confirm").click().run()
    assert not admin.exception and runs.list_runs(dirs[1]) == []
    assert "data_remove_choice" in [s.key for s in app("app_pages/data.py", email=BOB).selectbox]


def test_the_data_page_shows_the_dataset_limit_and_imports_nothing(dirs, monkeypatch):
    monkeypatch.setenv("MNIST_MAX_DATASETS_PER_USER", "1")
    datasets.commit(datasets.analyse_bytes("a.zip", shape_zip(3)), "first", imported_by=ADA)
    at = app("app_pages/data.py")
    at.file_uploader(key="data_upload").set_value(("shapes.zip", shape_zip(5), "application/zip"))
    at.text_input(key="data_name").set_value("second")
    at.run()
    at.button(key="data_import").click().run()
    assert not at.exception
    assert any("the limit per person (MNIST_MAX_DATASETS_PER_USER=1): first. Nothing was imported." in e
               for e in texts(at.error))
    assert [m["name"] for m in datasets.list_imported()] == ["first"]
    bob = app("app_pages/data.py", email=BOB)  # another person still may
    bob.file_uploader(key="data_upload").set_value(("shapes.zip", shape_zip(5), "application/zip"))
    bob.text_input(key="data_name").set_value("second")
    bob.run()
    bob.button(key="data_import").click().run()
    assert {m["name"]: m["imported_by"] for m in datasets.list_imported()} == {"first": ADA, "second": BOB}


def test_only_the_owner_or_an_admin_may_cancel_a_running_run(dirs):
    run_dir = runs.create_run(dirs[1], TrainConfig(data="mnist-sample", epochs=3), owner=BOB)
    runs.set_status(run_dir, "running", pid=os.getpid())  # looks live: its worker is this test's process
    assert "train_cancel" not in [b.key for b in app().button]  # ada
    for who in (BOB, "admin@example.com"):
        assert "train_cancel" in [b.key for b in app(email=who).button]
    assert "train_cancel" in [b.key for b in app(login=False).button]
