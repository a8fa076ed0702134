"""A run's array files: numpy `.npz` archives written atomically, read without torch; the `.pt` files of runs
trained before (torch.save of a dict of tensors) are still read, through torch, when no `.npz` is there.

Every array file of a run has a stem (probs, epoch_probs, val_probs, oof_probs, embeddings, issues_<split>,
map): new runs write `<stem>.npz` (np.savez, never pickled, loaded with allow_pickle=False), so the dashboard's
server shows the Predictions, Probabilities and Review pages without importing torch (about 500 MB of it).

    from mnist_core.run_arrays import read_arrays, save_arrays
    save_arrays(run_dir, "probs", probs=probs, labels=labels)
    read_arrays(run_dir, "probs", "a probabilities file")    # {"probs": ndarray, "labels": ndarray} | None
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from mnist_core.files import write_bytes_atomic
from mnist_core.run_read import RunStoreError

NPZ, LEGACY = ".npz", ".pt"


def array_file(run_dir: Path | str, stem: str) -> Path | None:
    """The file holding a run's `stem` arrays: the .npz, else an older run's .pt; None when it has neither."""
    for suffix in (NPZ, LEGACY):
        path = Path(run_dir) / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def as_array(value, dtype=None) -> np.ndarray:
    """A numpy copy-free view of a CPU tensor or an array (a GPU tensor is copied to the CPU first)."""
    if hasattr(value, "detach"):  # a torch tensor: numpy reads its CPU memory directly
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def save_arrays(run_dir: Path | str, stem: str, **arrays) -> Path:
    """Write `<stem>.npz` atomically (arrays or tensors, stored as numpy arrays); returns its path."""
    buffer = io.BytesIO()
    np.savez(buffer, **{name: as_array(value) for name, value in arrays.items()})
    path = Path(run_dir) / f"{stem}{NPZ}"
    write_bytes_atomic(path, buffer.getvalue())
    return path


def read_arrays(run_dir: Path | str, stem: str, what: str, legacy: bool = True) -> dict[str, np.ndarray] | None:
    """{name: array} of a run's `stem` file (.npz, else, with `legacy`, an older run's .pt); None when the run
    has neither; RunStoreError naming the file and run, never its contents, when it is unreadable or not `what`."""
    path = array_file(run_dir, stem)
    if path is None or (path.suffix == LEGACY and not legacy):
        return None
    try:
        arrays = _read_npz(path) if path.suffix == NPZ else _read_legacy(path)
    except RunStoreError:
        raise
    except Exception as exc:  # numpy, zipfile and torch raise many kinds on a damaged file
        raise RunStoreError(f"{path.name} of run {path.parent.name} is unreadable ({type(exc).__name__})") from exc
    if arrays is None:
        raise RunStoreError(f"{path.name} of run {path.parent.name} is not {what}")
    return arrays


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(path):
        raise ValueError("not a zip archive")
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _read_legacy(path: Path) -> dict[str, np.ndarray] | None:
    """A torch.save dict from before the .npz files: tensors and plain numbers become arrays; None when it is
    not a dict of only those. Only here does reading a run import torch."""
    import torch

    blob = torch.load(path, weights_only=True)
    if not isinstance(blob, dict):
        return None
    arrays = {}
    for name, value in blob.items():
        if isinstance(value, torch.Tensor):
            arrays[str(name)] = value.numpy()
        elif isinstance(value, (int, float, bool)):
            arrays[str(name)] = np.asarray(value)
        else:
            return None
    return arrays
