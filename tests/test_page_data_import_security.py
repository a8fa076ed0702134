"""The Data page's import, attacked as a visitor would (issue 17 items 2, 5, 13), through AppTest: no server
folder without MNIST_IMPORT_ROOTS, no path out of a root, no absolute path or secret shown, bombs refused by the
pixel budget and the sandbox's memory limit, names shown as plain text.

    python -m pytest -q tests/test_page_data_import_security.py
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from dataset_files import big_png, encode, make_zip, shape_files, shape_image, write_tree
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "data.py")


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A server whose allowed root holds one image folder; next to it, another user's home with secrets."""
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    write_tree(tmp_path / "imports" / "digits", shape_files(4) | {"bar/credentials.env": b"PASSWORD=hunter2"})
    write_tree(tmp_path / "home", {"id_rsa": b"-----BEGIN KEY", "cat/a.png": encode(shape_image("bar", 1)),
                                   "dog/b.png": encode(shape_image("box", 1))})
    os.symlink(tmp_path / "home", tmp_path / "imports" / "escape")
    monkeypatch.setenv("MNIST_IMPORT_ROOTS", str(tmp_path / "imports"))
    return tmp_path


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def shown(at: AppTest) -> str:
    """Every text the page shows: messages, report, tables."""
    kinds = ("error", "warning", "success", "text", "markdown", "caption")
    parts = [e.value for kind in kinds for e in getattr(at, kind)]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_without_import_roots_there_is_no_server_folder_field(server, monkeypatch):
    monkeypatch.delenv("MNIST_IMPORT_ROOTS")
    at = page()
    assert "data_folder" not in [t.key for t in at.text_input]
    assert "Importing from a folder on this server is off" in shown(at)


@pytest.mark.parametrize("typed", ["/etc", str(Path("/") / "dev"), "../home", "escape", "digits/../../home"])
def test_paths_out_of_the_root_are_refused(server, typed):
    at = page()
    at.text_input(key="data_folder").set_value(typed).run()
    assert not at.exception
    [error] = at.error
    assert "relative to the chosen folder" in error.value or "leads outside the folders" in error.value
    assert str(server) not in shown(at) and "id_rsa" not in shown(at)


def test_a_folder_in_the_root_shows_names_relative_to_it_and_no_secret(server):
    at = page()
    assert at.selectbox(key="data_root").options == ["imports"]
    at.text_input(key="data_folder").set_value("digits").run()
    assert not at.exception and not at.error
    text = shown(at)
    assert "Source: folder imports/digits" in text and "bar/credentials.env" in text
    assert str(server) not in text and "hunter2" not in text


def test_an_uploaded_pixel_bomb_is_refused(server, monkeypatch):
    monkeypatch.setenv("MNIST_IMPORT_MAX_PIXELS", "3000000")
    at = page()
    bomb = make_zip({f"{'ab'[i % 2]}/{i}.png": big_png(1000, i) for i in range(20)})
    at.file_uploader(key="data_upload").set_value(("bomb.zip", bomb, "application/zip")).run()
    assert not at.exception
    assert "more than 3,000,000 pixels in all" in at.error[0].value
    assert "data_import" not in [b.key for b in at.button]


def test_an_uploaded_npz_needing_too_much_memory_is_stopped(server, monkeypatch):
    monkeypatch.setenv("MNIST_IMPORT_MEMORY_MB", "64")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=np.zeros((30_000, 28, 28)), labels=np.zeros(30_000, int))  # 188 MB floats
    at = page()
    at.file_uploader(key="data_upload").set_value(("bomb.npz", buffer.getvalue(), "application/zip")).run()
    assert not at.exception
    assert "needed more than 64 MB of memory" in at.error[0].value
    assert not (server / "datasets").exists()


def test_names_are_shown_as_plain_text(server):
    files = shape_files(3) | {"bar/![beacon](http://127.0.0.1:9/t.png)\x1b[31m.txt": b"x"}
    at = page()
    at.file_uploader(key="data_upload").set_value(("x.zip", make_zip(files), "application/zip")).run()
    assert not at.exception and not at.error
    assert "\x1b" not in shown(at)
    assert not any("beacon" in m.value for m in at.markdown)  # never rendered as Markdown (an image fetch)
    assert "Skipped files: 1" in at.text[0].value
