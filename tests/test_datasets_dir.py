"""Where imported datasets live (issue 18): their own MNIST_DATASETS_DIR, found again after a restart with
another data dir; the old <data dir>/datasets still found; a read (listing, failed download) creates nothing.

    python -m pytest -q tests/test_datasets_dir.py
"""
from __future__ import annotations

import subprocess
import sys

import pytest
from dataset_files import shape_zip

from mnist_core.data import DataError, default_datasets_dir, list_data_sources, load_dataset
from mnist_core.own_data import datasets


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_restart_with_another_data_dir_keeps_imported_datasets(tmp_path, datasets_dir):
    datasets.commit(datasets.analyse_bytes("shapes.zip", shape_zip(4)), "shapes", data_dir=tmp_path / "data-a")
    assert files_under(datasets_dir)[:1] == ["shapes"] and not (tmp_path / "data-a").exists()
    # a fresh process ("a restart"), with MNIST_DATA_DIR pointing elsewhere, still lists and loads it
    code = ("from mnist_core.data import list_data_sources, load_dataset; "
            "print(list_data_sources()[-1], load_dataset('shapes').class_names)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"MNIST_DATA_DIR": str(tmp_path / "data-b"), "MNIST_DATASETS_DIR": str(datasets_dir),
                              "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}).stdout
    assert out.strip() == "shapes ['bar', 'box', 'dash']"


def test_the_default_is_datasets_beside_the_runs_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_DATASETS_DIR")
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "team" / "runs"))
    assert default_datasets_dir() == tmp_path / "team" / "datasets"


def test_datasets_in_the_old_place_are_still_found_and_removable(tmp_path, datasets_dir):
    data_dir = tmp_path / "data"
    datasets.commit(datasets.analyse_bytes("old.zip", shape_zip(3)), "old-one", data_dir / "datasets")
    assert "old-one" in list_data_sources(data_dir)
    assert load_dataset("old-one", data_dir).class_names == ["bar", "box", "dash"]
    assert [m["name"] for m in datasets.list_imported(data_dir=data_dir)] == ["old-one"]
    with pytest.raises(DataError, match="already exists"):  # a new import may not shadow it
        datasets.validate_name("old-one", data_dir=data_dir)
    datasets.remove_dataset("old-one", data_dir=data_dir)
    assert files_under(data_dir / "datasets") == [] and files_under(datasets_dir) == []


def test_a_failed_offline_download_creates_no_folder(tmp_path):
    data_dir = tmp_path / "data"
    with pytest.raises(DataError, match="downloading them failed"):
        load_dataset("fashion-mnist", data_dir, mirrors=["http://127.0.0.1:9/"])
    assert not data_dir.exists()
    data_dir.mkdir()
    with pytest.raises(DataError, match="downloading them failed"):
        load_dataset("fashion-mnist", data_dir, mirrors=["http://127.0.0.1:9/"])
    assert files_under(data_dir) == []


def test_listing_creates_nothing(tmp_path, datasets_dir):
    datasets_dir.rmdir()
    assert list_data_sources(tmp_path / "nowhere")[-1] == "mnist-sample"
    assert datasets.list_imported(data_dir=tmp_path / "nowhere") == []
    assert not datasets_dir.exists() and not (tmp_path / "nowhere").exists()
