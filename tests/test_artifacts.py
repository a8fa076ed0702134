"""The artifact store (MNIST_ARTIFACTS) against a real S3 API: moto's standalone server on 127.0.0.1, started here.

A finished run and an imported dataset are uploaded when they finish / are imported; after the local runs and
datasets folders are wiped (a restarted Community Cloud host), they are listed, loaded and shown again; a
damaged or missing object, or an unreachable store, gives a message naming the run, never a traceback.

    MNIST_DATA_DIR=../shared/data python -m pytest -q tests/test_artifacts.py
"""
from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import s3fs
from apptest_helpers import all_text, open_app, started_run, table_with
from dataset_files import npz_bytes, shape_arrays
from page_fixtures import make_finished_run
from s3_server import SECRET_KEY as SECRET
from s3_server import free_port as _free_port
from s3_server import new_bucket, s3_env, s3_server

from mnist_core import artifacts, runs
from mnist_core.config import TrainConfig
from mnist_core.data import DataError, list_data_sources, load_dataset
from mnist_core.own_data.datasets import analyse_bytes, commit, list_imported, remove_dataset
from mnist_core.runs import RunStoreError


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """moto's S3 server on 127.0.0.1 for this module; its URL."""
    with s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def store(s3_endpoint, monkeypatch) -> s3fs.S3FileSystem:
    """MNIST_ARTIFACTS pointing at a fresh bucket of the local server; an S3 client of our own to look inside."""
    bucket = f"lab-{uuid.uuid4().hex[:12]}"  # one per test: no test sees another's objects
    for name, value in s3_env(s3_endpoint, f"s3://{bucket}/team").items():
        monkeypatch.setenv(name, value)
    fs = new_bucket(s3_endpoint, bucket)
    fs.root = f"{bucket}/team"
    artifacts.forget_listing()
    yield fs
    artifacts.forget_listing()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, s3_endpoint):
    """A real run trained once (mnist-sample, 1 epoch) without a store; tests upload copies of it."""
    root = tmp_path_factory.mktemp("trained")
    return make_finished_run(root / "runs", root / "data")


def _objects(fs, kind: str, name: str) -> set[str]:
    fs.invalidate_cache()
    try:
        return {Path(p).name for p in fs.ls(f"{fs.root}/{kind}/{name}")}
    except FileNotFoundError:
        return set()


def _wipe(*folders: Path) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    artifacts.forget_listing()


def test_a_trained_run_survives_a_wiped_disk(store, runs_dir, tmp_path, monkeypatch):
    run_dir = make_finished_run(runs_dir, tmp_path / "data")  # real training, through end_run
    assert _objects(store, "runs", run_dir.name) >= {"config.json", "status.json", "metrics.jsonl", "model.pt",
                                                     "probs.npz", "epoch_probs.npz", artifacts.INDEX}
    before = runs.read_run(run_dir)
    probs, labels = runs.load_probs(run_dir)
    _wipe(runs_dir)

    [info] = runs.list_runs(runs_dir)
    assert (info.run_id, info.status, info.test_accuracy) == (run_dir.name, "finished", before.test_accuracy)
    assert info.config == before.config
    net, meta = runs.load_checkpoint(info.path / "model.pt")
    assert meta["test_accuracy"] == before.test_accuracy
    again_probs, again_labels = runs.load_probs(info.path)
    np.testing.assert_array_equal(again_probs, probs)
    np.testing.assert_array_equal(again_labels, labels)

    _wipe(runs_dir)  # the pages find it too, on a server whose disk is empty
    at = open_app(tmp_path / "data", runs_dir, monkeypatch, "app_pages/predictions.py")
    assert at.sidebar.selectbox(key="sidebar_run").value == run_dir.name
    assert "cannot be shown" not in all_text(at)
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    row = table_with(at, "run").set_index("run").loc[run_dir.name]
    assert row["status"] == "finished"


def test_a_run_started_from_the_train_page_reaches_the_store(store, runs_dir, tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", runs_dir, monkeypatch, "app_pages/train.py")
    at.selectbox(key="train_data").set_value("mnist-sample")
    at.number_input(key="train_epochs").set_value(1).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    info = started_run(runs_dir)  # trained by the detached worker, which inherits the store's settings
    assert info.status == "finished", info.error
    deadline = time.monotonic() + 30  # the worker uploads right after writing "finished"
    while artifacts.INDEX not in _objects(store, "runs", info.run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {"model.pt", "probs.npz", "status.json", artifacts.INDEX} <= _objects(store, "runs", info.run_id)
    deadline = time.monotonic() + 300  # then the label issues and the map, which it writes after "finished"
    while "map.npz" not in _listed(store, info.run_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert {"issues_test.npz", "map.npz"} <= _listed(store, info.run_id)


def _listed(fs, run_id: str) -> set[str]:
    """The files a run's index lists (what a server with an empty disk copies back)."""
    fs.invalidate_cache()
    try:
        return set(json.loads(fs.cat_file(f"{fs.root}/runs/{run_id}/{artifacts.INDEX}"))["files"])
    except FileNotFoundError:
        return set()


def test_files_written_after_the_upload_join_it_and_nothing_is_rewritten(store, trained, runs_dir):
    copy = Path(shutil.copytree(trained, runs_dir / trained.name))
    artifacts.push("runs", copy)
    uploaded = store.cat_file(f"{store.root}/runs/{copy.name}/status.json")
    (copy / "status.json").write_text('{"status": "tampered"}')  # an object once stored is never replaced
    (copy / "map.npz").write_bytes(b"the map, written later")
    artifacts.push("runs", copy)
    assert "map.npz" in _listed(store, copy.name)
    assert store.cat_file(f"{store.root}/runs/{copy.name}/status.json") == uploaded
    _wipe(runs_dir)
    [info] = runs.list_runs(runs_dir)
    assert (info.path / "map.npz").read_bytes() == b"the map, written later"
    assert info.status == "finished"


def test_running_runs_stay_local_and_deleting_removes_the_objects(store, trained, runs_dir):
    running = runs.create_run(runs_dir, TrainConfig(data="mnist-sample"))
    assert _objects(store, "runs", running.name) == set()
    copy = Path(shutil.copytree(trained, runs_dir / trained.name))
    artifacts.push("runs", copy)
    assert artifacts.INDEX in _objects(store, "runs", copy.name)
    runs.delete_run(copy)
    assert not copy.exists() and _objects(store, "runs", copy.name) == set()
    _wipe(runs_dir)
    assert runs.list_runs(runs_dir) == []  # deleted there too: it does not come back


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_damaged_object_names_the_run_and_breaks_no_page(store, trained, runs_dir, tmp_path, monkeypatch,
                                                           damage):
    copy = Path(shutil.copytree(trained, runs_dir / trained.name))
    artifacts.push("runs", copy)
    target = f"{store.root}/runs/{copy.name}/model.pt"
    if damage == "corrupt":
        store.pipe_file(target, b"not a checkpoint at all")
    else:
        store.rm(target)
    _wipe(runs_dir)

    [info] = runs.list_runs(runs_dir)
    assert info.run_id == copy.name and info.status == runs.BROKEN
    expected = "is damaged: model.pt does not match the checksum" if damage == "corrupt" \
        else "is incomplete: model.pt is missing"
    assert f"Run {copy.name} in the artifact store s3://" in info.error and expected in info.error
    assert SECRET not in info.error
    assert not any(runs_dir.iterdir())  # no half copy
    at = open_app(tmp_path / "data", runs_dir, monkeypatch, "app_pages/train.py")
    row = table_with(at, "run").set_index("run").loc[copy.name]
    assert row["status"] == runs.BROKEN and expected in row["problem"]
    at.switch_page("app_pages/predictions.py").run()
    assert not at.exception and "No trained model yet" in all_text(at)

    runs.delete_run(info.path)  # the way out: it is deleted from the store
    assert _objects(store, "runs", copy.name) == set() and runs.list_runs(runs_dir) == []


def test_an_unreachable_store_gives_a_message_without_secrets(trained, runs_dir, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("MNIST_ARTIFACTS", "s3://nowhere/team")
    monkeypatch.setenv("MNIST_ARTIFACTS_ENDPOINT", f"http://127.0.0.1:{_free_port()}")  # nothing listens
    artifacts.forget_listing()
    copy = Path(shutil.copytree(trained, runs_dir / trained.name))
    started = time.monotonic()
    message = artifacts.push_quietly("runs", copy)
    assert message.startswith(f"Run {copy.name} could not be saved to the artifact store s3://nowhere/team")
    assert SECRET not in message
    assert [r.run_id for r in runs.list_runs(runs_dir)] == [copy.name]  # the local runs still list
    assert time.monotonic() - started < 30
    monkeypatch.setenv("MNIST_ARTIFACTS_LIST_TTL", "30")
    runs.list_runs(runs_dir)
    again = time.monotonic()
    assert [r.run_id for r in runs.list_runs(runs_dir)] == [copy.name]
    assert time.monotonic() - again < 0.5  # the failure is remembered: a page rerun does not wait for it again
    with pytest.raises(RunStoreError, match=f"Run {copy.name} could not be deleted from the artifact store"):
        runs.delete_run(copy)  # kept here, since it might be kept there
    assert copy.exists()
    artifacts.forget_listing()


def test_an_imported_dataset_survives_a_wiped_disk(store, datasets_dir, tmp_path):
    images, labels = shape_arrays(per_class=10)
    analysis = analyse_bytes("shapes.npz", npz_bytes(images=images, labels=labels))
    folder = commit(analysis, "shapes")
    assert _objects(store, "datasets", "shapes") == {"manifest.json", "data.npz", artifacts.INDEX}
    original = load_dataset("shapes", tmp_path / "data")
    _wipe(datasets_dir)
    assert not folder.exists()

    assert "shapes" in list_data_sources(tmp_path / "data")
    again = load_dataset("shapes", tmp_path / "data")
    assert np.array_equal(again.test_images.numpy(), original.test_images.numpy())
    assert again.class_names == original.class_names
    assert [row["name"] for row in list_imported(data_dir=tmp_path / "data")] == ["shapes"]

    remove_dataset("shapes", data_dir=tmp_path / "data")
    assert _objects(store, "datasets", "shapes") == set()
    _wipe(datasets_dir)
    assert "shapes" not in list_data_sources(tmp_path / "data")


def test_a_damaged_dataset_object_gives_a_data_error(store, datasets_dir, tmp_path):
    images, labels = shape_arrays(per_class=10)
    commit(analyse_bytes("shapes.npz", npz_bytes(images=images, labels=labels)), "shapes")
    store.pipe_file(f"{store.root}/datasets/shapes/data.npz", b"PK garbage")
    _wipe(datasets_dir)
    with pytest.raises(DataError, match=r"Dataset 'shapes' in the artifact store .* is damaged: data.npz"):
        load_dataset("shapes", tmp_path / "data")
    [row] = list_imported(data_dir=tmp_path / "data")
    assert row["name"] == "shapes" and "is damaged: data.npz" in row["error"]
    remove_dataset("shapes", data_dir=tmp_path / "data")
    assert _objects(store, "datasets", "shapes") == set()


def test_a_file_url_store_round_trips_too(trained, runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_ARTIFACTS", (tmp_path / "store").as_uri())
    monkeypatch.setenv("MNIST_ARTIFACTS_LIST_TTL", "0")
    artifacts.forget_listing()
    copy = Path(shutil.copytree(trained, runs_dir / trained.name))
    artifacts.push("runs", copy)
    _wipe(runs_dir)
    [info] = runs.list_runs(runs_dir)
    assert info.status == "finished" and (info.path / "model.pt").read_bytes() == (trained / "model.pt").read_bytes()
    artifacts.forget_listing()
