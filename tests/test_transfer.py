"""Models in and out: export a run's model as one file, import it elsewhere as a finished run with identical
predictions, and refuse files that are garbage, of another architecture, or do not fit their data.

    python -m pytest -q tests/test_transfer.py
"""
from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch
from dataset_files import make_zip, shape_files, shape_zip

from mnist_core import runs, transfer
from mnist_core.checkpoint import max_checkpoint_bytes
from mnist_core.config import TrainConfig
from mnist_core.data import load_dataset
from mnist_core.launch import run_training
from mnist_core.nets import make_net
from mnist_core.own_data import datasets
from mnist_core.predict import predict_proba
from mnist_core.runs import RunStoreError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data dir, finished run dir) of one short run on an imported 3-class dataset."""
    root = tmp_path_factory.mktemp("trained")
    datasets.commit(datasets.analyse_bytes("shapes.zip", shape_zip(8)), "shapes", root / "data" / "datasets")
    config = TrainConfig(data="shapes", epochs=1, batch_size=8, device="cpu")
    run_dir = runs.create_run(root / "runs", config)
    assert run_training(config, run_dir, root / "data")["status"] == "finished"
    return root / "data", run_dir


def checkpoint_bytes(meta: dict, state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": 1, "meta": meta, "state_dict": state}, buffer)
    return buffer.getvalue()


def test_export_then_import_gives_a_finished_run_with_identical_predictions(trained, tmp_path):
    data_dir, run_dir = trained
    data = transfer.export_model(run_dir)  # written afresh, with the same weights and metadata
    (stored_model, stored_meta), (exported_model, exported_meta) = (
        runs.load_checkpoint(run_dir / "model.pt"), runs.load_checkpoint(io.BytesIO(data)))
    assert exported_meta == stored_meta
    assert all(torch.equal(a, b) for a, b in zip(stored_model.state_dict().values(),
                                                  exported_model.state_dict().values(), strict=True))
    assert transfer.export_file_name(runs.read_run(run_dir)) == f"mnist-lab-{run_dir.name}-shapes.pt"
    hostile = dataclasses.replace(runs.read_run(run_dir), config={"data": "../../x"})  # a run folder's config
    assert transfer.export_file_name(hostile) == f"mnist-lab-{run_dir.name}-data.pt"
    new_dir = transfer.import_model(data, tmp_path / "other-runs", data_dir, "shapes-model.pt")
    [info] = runs.list_runs(tmp_path / "other-runs")
    assert info.path == new_dir and info.status == "finished"
    assert info.config == runs.read_run(run_dir).config
    assert info.test_accuracy == pytest.approx(runs.read_run(run_dir).test_accuracy)
    assert sorted(p.name for p in (tmp_path / "other-runs").iterdir()) == [new_dir.name]  # no staging left
    old_probs, old_labels = runs.load_probs(run_dir)
    new_probs, new_labels = runs.load_probs(new_dir)
    np.testing.assert_array_equal(new_probs, old_probs)
    np.testing.assert_array_equal(new_labels, old_labels)
    (old_model, meta), (new_model, _) = runs.load_checkpoint(run_dir / "model.pt"), runs.load_checkpoint(
        new_dir / "model.pt")
    images = load_dataset("shapes", data_dir).test_images
    assert torch.equal(predict_proba(new_model, images, meta["mean"], meta["std"]),
                       predict_proba(old_model, images, meta["mean"], meta["std"]))


def test_transfer_cli_round_trip(trained, tmp_path, capsys):
    data_dir, run_dir = trained
    out = tmp_path / "model.pt"
    assert transfer.main(["export", str(run_dir), str(out)]) == 0
    assert transfer.main(["import", str(out), "--runs-dir", str(tmp_path / "r"), "--data-dir", str(data_dir)]) == 0
    assert "added run" in capsys.readouterr().out
    assert [r.status for r in runs.list_runs(tmp_path / "r")] == ["finished"]


def refuse(data: bytes, data_dir, runs_dir, match: str) -> None:
    with pytest.raises(RunStoreError, match=match):
        transfer.import_model(data, runs_dir, data_dir, "upload.pt")
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []


def test_garbage_is_refused(trained, tmp_path):
    refuse(b"definitely not a model", trained[0], tmp_path / "r", "^Not an MNIST Lab model file: it is not a PyTorch")
    refuse(checkpoint_bytes({"x": 1}, {}), trained[0], tmp_path / "r", "no class_names")


def test_pickled_code_is_never_run(trained, tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    buffer = io.BytesIO()
    torch.save({"meta": {}, "state_dict": Boom()}, buffer)
    refuse(buffer.getvalue(), trained[0], tmp_path / "r", "^Not an MNIST Lab model file: .*nothing in it was run")


def test_another_architecture_is_refused(trained, tmp_path):
    meta = runs.load_checkpoint(trained[1] / "model.pt")[1]
    state = make_net("notebook", 3).state_dict()
    refuse(checkpoint_bytes(meta | {"architecture": "resnet50"}, state), trained[0], tmp_path / "r",
           "architecture not supported: MNIST Lab has notebook, fast, best")
    other = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 3)).state_dict()
    refuse(checkpoint_bytes(meta, other), trained[0], tmp_path / "r", "weights do not fit architecture 'notebook'")


def test_a_model_whose_classes_differ_from_its_dataset_is_refused(trained, tmp_path):
    data = transfer.export_model(trained[1])
    here = tmp_path / "data"  # here, "shapes" is a different, 2-class dataset
    two_classes = datasets.analyse_bytes("s.zip", make_zip(shape_files(4, kinds=("bar", "dash"))))
    datasets.commit(two_classes, "shapes", here / "datasets")  # the data dir's own (old-place) datasets
    refuse(data, here, tmp_path / "r", r"has 3 classes \(bar, box, dash\) but data source 'shapes' here has 2")


def test_a_model_of_missing_data_is_refused_naming_the_source(trained, tmp_path):
    refuse(transfer.export_model(trained[1]), tmp_path / "empty-data", tmp_path / "r",
           "trained on data source 'shapes', which is not available here")


def test_an_oversized_file_is_refused(trained, tmp_path):
    limit = max_checkpoint_bytes()
    refuse(transfer.export_model(trained[1]) + bytes(limit), trained[0], tmp_path / "r",
           rf"upload.pt is [0-9.]+ MB; the limit for a model file is {limit / 2**20:.1f} MB")


def test_an_upload_name_is_made_plain():
    assert transfer.upload_name("../../etc/![x](http://e.example/b.png)\n.pt") == "b.png_.pt"
    assert transfer.upload_name("mnist-lab-20260101-120000-ab12-mnist.pt") == "mnist-lab-20260101-120000-ab12-mnist.pt"
    assert transfer.upload_name("...") == "model.pt" and len(transfer.upload_name("a" * 500 + ".pt")) == 80
