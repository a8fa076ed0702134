"""End to end: a zip of image folders made here is imported, trained on for one epoch through the same
`run_training` the CLI and dashboard use, and its class names come back in the run's checkpoint.

    python -m pytest -q tests/test_datasets_train.py
"""
from __future__ import annotations

from dataset_files import shape_zip

from mnist_core import runs
from mnist_core.config import TrainConfig
from mnist_core.launch import run_training
from mnist_core.own_data import datasets
from mnist_core.train import main as train_main


def test_imported_zip_trains_and_its_class_names_reach_the_checkpoint(tmp_path):
    data_dir, runs_dir = tmp_path / "data", tmp_path / "runs"
    datasets.commit(datasets.analyse_bytes("shapes.zip", shape_zip(10)), "shapes")
    config = TrainConfig(data="shapes", epochs=1, batch_size=8, device="cpu")
    run_dir = runs.create_run(runs_dir, config)
    status = run_training(config, run_dir, data_dir)
    assert status["status"] == "finished", status.get("error")
    model, meta = runs.load_checkpoint(run_dir / "model.pt")
    assert meta["class_names"] == ["bar", "box", "dash"] and meta["data"] == "shapes"
    assert model.out.out_features == 3
    probs, labels = runs.load_probs(run_dir)
    assert probs.shape == (6, 3) and labels.tolist() == datasets.analyse_bytes(
        "shapes.zip", shape_zip(10)).arrays()["test_labels"].tolist()


def test_training_cli_accepts_an_imported_data_source(tmp_path, capsys):
    data_dir, runs_dir = tmp_path / "data", tmp_path / "runs"
    datasets.commit(datasets.analyse_bytes("shapes.zip", shape_zip(4)), "shapes")
    code = train_main(["--data", "shapes", "--epochs", "1", "--batch-size", "4", "--device", "cpu",
                       "--data-dir", str(data_dir), "--runs-dir", str(runs_dir)])
    assert code == 0
    assert "test accuracy:" in capsys.readouterr().out
