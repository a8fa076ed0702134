"""Label corrections in the dashboard are an upload or a kept file, never a typed path (issue 17, item 1): the
Train page has no path field; an uploaded CSV is checked in memory against the data source, kept re-written under
<runs dir>/corrections/ and named by the run's config; bad files get a message that quotes nothing from them; and
reading a server file that is not a corrections file (from the CLI, or a run's config) shows none of it.

    python -m pytest -q tests/test_corrections_upload.py
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.data import load_dataset
from mnist_core.review.corrections import MAX_BYTES, STORE, CorrectionsError, read_corrections, stored_corrections
from mnist_core.review.export import review_corrections

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SECRET = "REVIEW_DB_PASSWORD=hunter2-s3cret"


@pytest.fixture
def lab(tmp_path, monkeypatch, runs_dir):
    """(data dir, runs dir), the app pointed at both (conftest's runs_dir sets MNIST_RUNS_DIR)."""
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data", runs_dir


@pytest.fixture
def secret_file(tmp_path) -> Path:
    """A server file a visitor would like to read: the environment with a password, as /proc/self/environ."""
    path = tmp_path / "environ"
    path.write_bytes(f"HOME=/root\0{SECRET}\0PATH=/usr/bin\0".encode())
    return path


def train_page(data: str = "mnist-sample") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.selectbox(key="train_data").set_value(data).run()
    assert not at.exception
    return at


def upload(at: AppTest, data: bytes, name: str = "corrections.csv") -> AppTest:
    at.file_uploader(key="train_corrections_upload").set_value((name, data, "text/csv"))
    at.run()
    assert not at.exception
    return at


def page_dump(at: AppTest) -> str:
    return "\n".join(str(getattr(node, "proto", "")) for node in at._tree)


def test_the_train_page_takes_no_path_and_an_uploaded_server_file_shows_none_of_it(lab, secret_file):
    at = train_page()
    assert [t.key for t in at.text_input if t.key and t.key.startswith("train_")] == []  # no path field
    assert at.selectbox(key="train_corrections").value == ""
    upload(at, secret_file.read_bytes(), "environ.csv")  # renamed: the uploader wants .csv
    [error] = [e.value for e in at.error]
    assert error.startswith("These corrections were not used: The uploaded file: line 1 must be the header")
    assert "hunter2" not in page_dump(at) and "HOME=" not in page_dump(at)
    assert not (lab[1] / STORE).exists()


@pytest.mark.parametrize("content", [
    f"{SECRET}\n".encode(),  # /etc/passwd-like: one line, no header
    f"dataset,split,index,label\n{SECRET},test,1,2\n".encode(),
    f"dataset,split,index,label\nmnist,{SECRET},1,2\n".encode(),
    f"dataset,split,index,label\nmnist,test,{SECRET},2\n".encode(),
    f"dataset,split,index,label\nmnist,test,1,{SECRET}\n".encode(),
    f"dataset,split,index,label\nmnist,test,1,2,{SECRET}\n".encode(),
])
def test_a_server_file_read_as_corrections_is_never_quoted(tmp_path, content):
    """The CLI takes a path (the shell user is trusted), and a run's config names one the Review page reads."""
    path = tmp_path / "secret.csv"
    path.write_bytes(content)
    for read in (lambda: read_corrections(path), lambda: review_corrections([], "mnist", str(path))):
        with pytest.raises(CorrectionsError) as info:
            read()
        assert "hunter2" not in str(info.value) and "REVIEW_DB" not in str(info.value)


def test_a_device_is_refused_without_being_read():
    start = time.monotonic()
    with pytest.raises(CorrectionsError, match="/dev/zero is not a regular file"):
        read_corrections("/dev/zero")
    assert time.monotonic() - start < 1


@pytest.mark.parametrize("content, message", [
    (b"dataset,split,index,label\nmnist,test,1,2\n", "corrects another dataset than the training data, "
                                                     "'mnist-sample'"),
    (b"dataset,split,index,label\nmnist-sample,test,1000,2\n", "test index 1000 is out of range: 'mnist-sample' "
                                                               "has 1000 test images"),
    (b"dataset,split,index,label\nmnist-sample,train,1,10\n", "label 10 for train image 1 is out of range"),
    (b"dataset,split,index,label\n", "has no rows: there is nothing to correct"),
    (b"\xff\xfe\x00d", "The uploaded file is not UTF-8 text"),
    (b"dataset,split,index,label\n" + b"mnist-sample,test,1,2\n" * (MAX_BYTES // 20), "over 4 MB, the limit"),
])
def test_a_bad_upload_gets_a_specific_message_and_nothing_is_kept(lab, content, message):
    at = upload(train_page(), content)
    [error] = [e.value for e in at.error]
    assert message in error
    assert stored_corrections(lab[1], "mnist-sample") == [] and at.selectbox(key="train_corrections").value == ""


@pytest.mark.slow
def test_an_uploaded_file_is_kept_rewritten_and_the_run_trains_with_it(lab):
    label = (int(load_dataset("mnist-sample").test_labels[3]) + 1) % 10  # surely not the given label
    at = upload(train_page(), f"\ufeffdataset,split,index,label\r\nmnist-sample,test,3,{label}\r\n"
                              "mnist-sample,train,10,2\r\n".encode())  # a spreadsheet's BOM and line ends
    assert not at.error
    [kept] = stored_corrections(lab[1], "mnist-sample")
    assert kept.path.read_text() == f"dataset,split,index,label\nmnist-sample,test,3,{label}\nmnist-sample,train,10,2\n"
    assert at.selectbox(key="train_corrections").value == kept.path.name
    assert kept.label.startswith("2 corrected labels, added ")
    at.number_input(key="train_epochs").set_value(1).run()
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error
    [run] = runs.list_runs(lab[1])
    assert run.config["label_corrections"] == str(kept.path.resolve())
    deadline = time.time() + 180
    while run.status == "running" and time.time() < deadline:
        time.sleep(1)
        run = runs.read_run(run.path)
    assert run.status == "finished", run.error
    assert int(runs.load_probs(run.path)[1][3]) == label  # the run's test labels carry the correction
    again = train_page()  # a new session lists the kept file to train with again
    assert again.selectbox(key="train_corrections").options[1:] == [kept.label]
