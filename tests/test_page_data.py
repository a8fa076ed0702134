"""The Data page, driven headless with Streamlit's AppTest: server-folder and upload imports with preview and
report, errors shown as messages (never tracebacks), removal behind a confirmation, models in and out.

    python -m pytest -q tests/test_page_data.py
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from dataset_files import encode, make_zip, shape_files, shape_image, shape_zip, write_tree
from streamlit.testing.v1 import AppTest

from mnist_core import runs, transfer
from mnist_core.config import TrainConfig
from mnist_core.data import default_datasets_dir
from mnist_core.launch import checkpoint_meta
from mnist_core.nets import make_net
from mnist_core.own_data import datasets

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "data.py")


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    data_dir, runs_dir = tmp_path / "data", tmp_path / "runs"
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("MNIST_IMPORT_ROOTS", str(tmp_path))  # the folder tests pick "src" inside
    return data_dir, runs_dir


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_server_folder_preview_report_and_import(dirs, tmp_path):
    write_tree(tmp_path / "src", shape_files(10) | {"bar/notes.txt": b"hello"})
    at = page()
    at.text_input(key="data_folder").set_value("src")
    at.text_input(key="data_name").set_value("shapes")
    at.run()
    assert not at.exception and not at.error
    [grid] = at.image  # the 5x5 grid is one picture
    assert grid.captions == ["First training images, as the model will see them"]
    counts = at.dataframe[0].value
    assert counts.to_dict() == {"train": {"bar": 8, "box": 8, "dash": 8}, "test": {"bar": 2, "box": 2, "dash": 2}}
    report = " ".join(texts(at.text))
    assert "Images: 30 in 3 classes: 24 train, 6 test" in report and "Skipped files: 1" in report
    at.button(key="data_import").click().run()
    assert not at.exception
    assert texts(at.success) == ["Imported 'shapes'. Train on it by choosing data source 'shapes' on the Train page."]
    assert (default_datasets_dir() / "shapes" / "data.npz").is_file()
    assert at.dataframe[-1].value["name"].tolist() == ["shapes"]


def test_test_fraction_slider_changes_the_split(dirs, tmp_path):
    write_tree(tmp_path / "src", shape_files(10))
    at = page()
    at.text_input(key="data_folder").set_value("src")
    at.slider(key="data_test_fraction").set_value(0.5)
    at.run()
    assert at.dataframe[0].value["test"].tolist() == [5, 5, 5]


def test_uploaded_zip_is_analysed_and_imported(dirs):
    at = page()
    at.file_uploader(key="data_upload").set_value(("shapes.zip", shape_zip(5), "application/zip"))
    at.text_input(key="data_name").set_value("uploaded")
    at.run()
    assert not at.exception and not at.error
    assert "Source: zip shapes.zip" in " ".join(texts(at.text))
    at.button(key="data_import").click().run()
    assert datasets.list_imported()[0]["source"]["file"] == "shapes.zip"


def test_hostile_upload_shows_the_reason_and_writes_nothing(dirs):
    at = page()
    slip = make_zip(shape_files(3) | {"../../evil.png": encode(shape_image("bar", 50))})
    at.file_uploader(key="data_upload").set_value(("evil.zip", slip, "application/zip"))
    at.run()
    assert not at.exception
    assert "member '../../evil.png' has a path that escapes the archive" in texts(at.error)[0]
    assert "data_import" not in [button.key for button in at.button]
    assert not dirs[0].exists() or not any(dirs[0].rglob("*.npz"))


def test_bad_or_taken_name_disables_import(dirs, tmp_path):
    write_tree(tmp_path / "src", shape_files(4))
    at = page()
    at.text_input(key="data_folder").set_value("src")
    at.text_input(key="data_name").set_value("mnist")
    at.run()
    assert "'mnist' is a built-in data source; choose another name." in texts(at.warning)
    assert at.button(key="data_import").disabled


def test_remove_asks_for_confirmation(dirs):
    datasets.commit(datasets.analyse_bytes("a.zip", shape_zip(3)), "doomed")
    at = page()
    at.selectbox(key="data_remove_choice").set_value("doomed").run()
    assert at.button(key="data_remove").disabled
    assert datasets.list_imported()  # choosing alone removes nothing
    at.checkbox(key="data_remove_confirm").check().run()
    at.button(key="data_remove").click().run()
    assert not at.exception
    assert datasets.list_imported() == []
    assert texts(at.success) == ["Removed dataset 'doomed'."]


def finished_run(runs_dir: Path, data: str, class_names: list[str]) -> Path:
    """A finished run with an untrained net: enough to move models in and out without training."""
    config = TrainConfig(data=data, epochs=1)
    run_dir = runs.create_run(runs_dir, config)
    torch.manual_seed(0)
    runs.save_checkpoint(run_dir / "model.pt", make_net("notebook", len(class_names)),
                         checkpoint_meta(config, class_names, {"test_accuracy": 0.5, "test_loss": 1.0}))
    runs.save_probs(run_dir, torch.full((2, len(class_names)), 1 / len(class_names)), torch.tensor([0, 1]))
    runs.set_status(run_dir, "finished", test_accuracy=0.5)
    return run_dir


def test_models_in_and_out(dirs):
    data_dir, runs_dir = dirs
    datasets.commit(datasets.analyse_bytes("a.zip", shape_zip(5)), "shapes")
    run_dir = finished_run(runs_dir, "shapes", ["bar", "box", "dash"])
    at = page()
    assert at.selectbox(key="model_run").value == run_dir.name
    assert at.download_button(key="model_download").label == "Download model"
    at.file_uploader(key="model_upload").set_value(("junk.pt", b"not a model", "application/octet-stream"))
    at.run()
    at.button(key="model_import").click().run()
    assert not at.exception
    assert texts(at.error)[0].startswith("Not an MNIST Lab model file")
    at.file_uploader(key="model_upload").set_value(("m.pt", transfer.export_model(run_dir), "application/octet-stream"))
    at.run()
    at.button(key="model_import").click().run()
    assert not at.exception and not at.error
    assert texts(at.success)[0].startswith("Added run ")
    assert len(runs.list_runs(runs_dir)) == 2
