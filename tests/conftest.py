"""Shared pytest fixtures: the real MNIST files, small real-digit datasets, temp run and data folders.

    python -m pytest -q                         # finds ../shared/data on its own
    MNIST_DATA_DIR=/path/to/data python -m pytest -q

Fixtures (use them instead of loading data again; the session-scoped ones are loaded once per run):
    shared_data_dir    Path holding MNIST/raw/*-ubyte (MNIST_DATA_DIR, else ../shared/data); a test that needs
                       it is skipped, saying where it looked, when neither holds all four files
    one_thread         torch runs on one intra-op thread during the test (restored afterwards)
    mnist_full         Dataset: all 60,000/10,000 real MNIST digits (read-only: never modify its tensors)
    mnist_subset       Dataset: the first 2,000 training and 500 test real digits (own copies)
    mnist_sample       Dataset: the offline `mnist-sample` source (4,000/1,000)
    runs_dir           an empty temp runs folder, also exported as MNIST_RUNS_DIR
    datasets_dir       (autouse) an empty temp folder for imported datasets, exported as MNIST_DATASETS_DIR
    make_idx_dir       factory: a temp data dir with MNIST/raw/ holding the first n train/test real digits

To craft IDX files yourself: `from idxfiles import idx_bytes, write_idx_subset` (tests/idxfiles.py); a finished
run without training: `from fake_run import make_fake_run` (tests/fake_run.py).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# One torch thread per test process, inherited by the CLI and worker subprocesses the tests start. Tests run
# while other test processes share the 2 cores; two intra-op threads per process then oversubscribe the cores
# and spin: 32 notebook-net batches took 7-17 s with 2 threads against 0.6 s with 1 under that load. Must be
# set before torch is imported; an explicit OMP_NUM_THREADS wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# No standby worker (mnist_core.standby) in the AppTest and browser servers the tests start: each would import torch
# on the shared cores. tests/test_standby.py starts its own.
os.environ["MNIST_STANDBY"] = "0"

import torch  # noqa: E402
from idxfiles import write_idx_subset  # noqa: E402

from mnist_core.data import Dataset, idx_dir, load_dataset, missing_idx_files  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


def find_shared_data_dir() -> Path | None:
    """MNIST_DATA_DIR if it holds the MNIST IDX files, else ../shared/data (next to the repo root)."""
    for root in data_dir_candidates():
        if not missing_idx_files("mnist", root):
            return root.resolve()
    return None


def data_dir_candidates() -> list[Path]:
    candidates = [Path(os.environ["MNIST_DATA_DIR"])] if os.environ.get("MNIST_DATA_DIR") else []
    return candidates + [REPO_ROOT.parent / "shared" / "data"]


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The one way tests find the real MNIST files; without them the test is skipped (never failed)."""
    root = find_shared_data_dir()
    if root is None:
        looked = " or ".join(str(c) for c in data_dir_candidates())
        pytest.skip(f"real MNIST IDX files not found in {looked}: set MNIST_DATA_DIR to a folder holding "
                    "MNIST/raw/*-ubyte (the project expects them at ../shared/data)")
    return root


@pytest.fixture
def one_thread():
    """One torch intra-op thread: the tests share 2 cores with other test processes, and two OpenMP threads per
    process then wait on each other (about 15x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mnist_full(shared_data_dir) -> Dataset:
    return load_dataset("mnist", shared_data_dir, download=False)


@pytest.fixture(scope="session")
def mnist_subset(mnist_full) -> Dataset:
    d = mnist_full
    return Dataset("mnist", d.train_images[:2000].clone(), d.train_labels[:2000].clone(),
                   d.test_images[:500].clone(), d.test_labels[:500].clone(), list(d.class_names))


@pytest.fixture(scope="session")
def mnist_sample() -> Dataset:
    return load_dataset("mnist-sample")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    monkeypatch.setenv("MNIST_RUNS_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def datasets_dir(tmp_path_factory, monkeypatch) -> Path:
    """Every test imports into a folder of its own, never into ./datasets (outside its tmp_path, so tests
    that list their tmp_path see only their own files)."""
    path = tmp_path_factory.mktemp("imported-datasets")
    monkeypatch.setenv("MNIST_DATASETS_DIR", str(path))
    return path


@pytest.fixture
def make_idx_dir(tmp_path, shared_data_dir):
    """make_idx_dir(n_train=1000, n_test=200, folder="MNIST") -> a data dir with <folder>/raw/ of real digits."""
    def make(n_train: int = 1000, n_test: int = 200, folder: str = "MNIST") -> Path:
        root = tmp_path / f"data-{folder}-{n_train}-{n_test}"
        write_idx_subset(idx_dir("mnist", shared_data_dir), root / folder / "raw", n_train, n_test)
        return root
    return make
