"""Checkpoint files (model.pt): what one holds, and reading one that may come from a stranger.

A checkpoint is a torch.save zip of {"format": 1, "meta": {...}, "state_dict": {name: tensor}}. torch.save stores
every member uncompressed, and MNIST Lab's nets are small, so a file is refused before torch reads it when it
holds a compressed member (3 MB of deflated zeros unpack to 3 GB), declares more than MAX_CHECKPOINT_BYTES in
all, or is not a zip. torch.load then runs with weights_only=True (never unpickling code), and the contents are
checked: the metadata's types, every weight's name and shape against the named architecture (before a tensor
is touched: a stride-0 tensor may claim a billion elements), and finite weights. Messages never quote the file.

    python -c "from mnist_core.checkpoint import read_checkpoint; print(read_checkpoint('runs/RUN/model.pt')[1])"
"""
from __future__ import annotations

import functools
import io
import math
import os
import stat
import warnings
import zipfile

import torch
import torch.nn as nn

from mnist_core.config import DATA_NAME_RULE, is_data_name
from mnist_core.nets import ARCHITECTURES, make_net

CHECKPOINT_FORMAT = 1
MAX_MEMBERS = 256  # torch writes one member per tensor storage plus 6 others; our nets have at most 20 tensors
MAX_CLASS_NAME = 255  # characters: a class is a folder name in an imported dataset
NOT_OURS = "Not an MNIST Lab model file"


class CheckpointError(ValueError):
    """A checkpoint is refused; the message says why, and never quotes the file's contents."""


@functools.cache
def max_checkpoint_bytes() -> int:
    """A few times the largest known net's weights (at 100 classes), plus room for the metadata."""
    largest = max(sum(t.numel() * t.element_size() for t in make_net(name, 100).state_dict().values())
                  for name in ARCHITECTURES)
    return 4 * largest + 256 * 1024


def checkpoint_bytes(net: nn.Module, meta: dict) -> bytes:
    """A checkpoint's bytes: the model's weights on the CPU, and the metadata."""
    net = getattr(net, "_orig_mod", net)  # torch.compile
    net = getattr(net, "module", net)  # DistributedDataParallel
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "meta": meta, "state_dict": state}, buffer)
    return buffer.getvalue()


def read_bytes(source) -> bytes:
    """A path's or file object's bytes, refused past the size limit without reading the rest."""
    limit = max_checkpoint_bytes()
    if hasattr(source, "read"):
        data = source.read(limit + 1)
    else:
        try:
            with open(source, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise CheckpointError(f"{NOT_OURS}: it is not a regular file.")
                data = f.read(limit + 1)
        except FileNotFoundError as exc:
            raise CheckpointError(f"No checkpoint at {source}") from exc
    if len(data) > limit:
        raise CheckpointError(f"This model file is over {_mb(limit)}, the limit for a model file (four times the "
                              "largest net MNIST Lab trains, with its metadata); a checkpoint of this app is smaller.")
    return data


def check_zip(data: bytes) -> None:
    """Refuse what torch.load should never see: not a zip, compressed or encrypted members, too large contents."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{NOT_OURS}: it is not a PyTorch checkpoint (a .pt file saved by Download model "
                              "or by training here).") from exc
    if len(members) > MAX_MEMBERS:
        raise CheckpointError(f"{NOT_OURS}: it has {len(members):,} parts; a checkpoint has at most {MAX_MEMBERS}.")
    if any(m.compress_type != zipfile.ZIP_STORED or m.flag_bits & 0x1 for m in members):
        raise CheckpointError(f"{NOT_OURS}: it holds compressed or encrypted parts, which torch.save never "
                              "writes (and a small compressed file can unpack to gigabytes); it was not loaded.")
    declared = sum(max(m.file_size, m.compress_size) for m in members)
    if declared > max_checkpoint_bytes() or any(m.file_size != m.compress_size for m in members):
        raise CheckpointError(f"{NOT_OURS}: its parts declare {_mb(declared)} in all, more than the file holds "
                              f"or the {_mb(max_checkpoint_bytes())} a checkpoint of this app may hold; it was not "
                              "loaded.")


def read_checkpoint(source, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(net in eval mode, meta) from a path or file object, after every check in this module's docstring."""
    data = read_bytes(source)
    check_zip(data)
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; the answer is the same either way
            warnings.simplefilter("ignore")
            blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and torch errors all mean: not a checkpoint we wrote
        # torch's own message suggests weights_only=False, i.e. running the file's code: never pass it on.
        raise CheckpointError(f"{NOT_OURS}: it is not a checkpoint saved by MNIST Lab (torch could not read it "
                              "as plain tensors and values, so nothing in it was run).") from exc
    if not isinstance(blob, dict) or not isinstance(blob.get("meta"), dict) or not isinstance(
            blob.get("state_dict"), dict):
        raise CheckpointError(f"{NOT_OURS}: a checkpoint is a dict with 'meta' and 'state_dict', and this is not.")
    meta = check_meta(blob["meta"])
    net = make_net(meta["architecture"], num_classes=len(meta["class_names"]))
    check_state(blob["state_dict"], net, meta)
    net.load_state_dict(blob["state_dict"])
    return net.to(device).eval(), meta


def check_meta(meta: dict) -> dict:
    """`meta` when its architecture, class names, normalisation and data name are usable, else CheckpointError."""
    names = meta.get("class_names")
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise CheckpointError("Checkpoint metadata has no class_names (a list of class names).")
    if not 2 <= len(names) <= 100 or any(not 0 < len(n) <= MAX_CLASS_NAME for n in names):
        raise CheckpointError(f"Checkpoint metadata has {len(names)} class names; a model has 2 to 100, "
                              f"each 1 to {MAX_CLASS_NAME} characters long.")
    mean, std = meta.get("mean"), meta.get("std")
    if not all(_is_number(v) for v in (mean, std)) or std <= 0:
        raise CheckpointError("Checkpoint metadata has no usable normalisation (mean and std, std > 0).")
    if meta.get("architecture") not in ARCHITECTURES:
        raise CheckpointError(f"Checkpoint architecture not supported: MNIST Lab has {', '.join(ARCHITECTURES)}.")
    if "data" in meta and not is_data_name(meta["data"]):
        raise CheckpointError(f"Checkpoint metadata's data source is not a data source name ({DATA_NAME_RULE}).")
    return meta


def check_state(state: dict, net: nn.Module, meta: dict) -> None:
    """Every weight present, of the architecture's shape and kind, and finite; nothing else."""
    expected = net.state_dict()
    where = f"architecture {meta['architecture']!r} with {len(meta['class_names'])} classes"
    missing = [k for k in expected if k not in state]
    extra = sum(k not in expected for k in state)
    if missing or extra:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        raise CheckpointError(f"Checkpoint weights do not fit {where}: "
                              + "; ".join(filter(None, [f"missing {shown}" if missing else "",
                                                        f"{extra} unexpected weights" if extra else ""])) + ".")
    for name, want in expected.items():
        got = state[name]
        if not isinstance(got, torch.Tensor) or got.shape != want.shape or got.is_floating_point() != \
                want.is_floating_point():
            what = f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else "not a tensor"
            raise CheckpointError(f"Checkpoint weights do not fit {where}: {name} is {what}, expected "
                                  f"{want.dtype} of shape {tuple(want.shape)}.")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise CheckpointError(f"Checkpoint weight {name} holds NaN or infinite values: the model is unusable.")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.2f} MB"
