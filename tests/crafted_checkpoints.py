"""Hostile model files for the upload tests, built for real but cheaply: a 3 GB zero tensor deflated into a 3 MB
.pt (never allocated here), a checkpoint with an extra zip member, and checkpoints with chosen metadata.

Used by tests/test_model_uploads.py; `python tests/crafted_checkpoints.py OUT.pt` writes the 3 GB bomb.
"""
from __future__ import annotations

import io
import struct
import sys
import zipfile
import zlib

import torch

from mnist_core.launch import checkpoint_meta
from mnist_core.nets import make_net

CHUNK = 1 << 20
BOMB_CHUNKS = 2861  # 2,999,975,936 bytes: 749,993,984 float32 zeros
BOMB_CRC = 0x69D85C65  # zlib.crc32 of that many zero bytes (3 s to compute, so written down once)
MARKER = 123457  # a tensor length that appears in data.pkl only as the storage size and the shape


def checkpoint(meta: dict, state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": 1, "meta": meta, "state_dict": state}, buffer)
    return buffer.getvalue()


def good_checkpoint(config, class_names: list[str], architecture: str = "notebook") -> tuple[dict, dict]:
    """(meta, state_dict) of an untrained net, as training would save it."""
    torch.manual_seed(0)
    meta = checkpoint_meta(config, class_names, {"test_accuracy": 0.5, "test_loss": 1.0})
    return meta | {"architecture": architecture}, make_net(architecture, len(class_names)).state_dict()


def zero_stream(chunks: int) -> bytes:
    """A raw deflate stream of chunks MB of zeros: after a full flush every chunk compresses to the same bytes."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(bytes(CHUNK)) + c.flush(zlib.Z_FULL_FLUSH)
    repeat = c.compress(bytes(CHUNK)) + c.flush(zlib.Z_FULL_FLUSH)
    return first + repeat * (chunks - 1) + c.flush(zlib.Z_FINISH)


def write_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip of (name, bytes as stored, method, crc32, uncompressed size) members, sizes taken as given."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, payload, method, crc, size in members:
        offset, raw = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(payload), size,
                              len(raw), 0) + raw + payload)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(payload),
                                  size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
    start = out.tell()
    out.write(central.getvalue())
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central.getvalue()),
                          start, 0))
    return out.getvalue()


def zero_bomb(meta: dict, chunks: int = BOMB_CHUNKS, crc: int = BOMB_CRC, compress: bool = True) -> bytes:
    """A torch checkpoint whose one tensor is chunks MB of zeros, deflated (or stored, lying about its size)."""
    elements = chunks * CHUNK // 4
    src = zipfile.ZipFile(io.BytesIO(checkpoint(meta, {"w": torch.zeros(MARKER)})))
    members = []
    for info in src.infolist():
        data = src.read(info)
        if info.filename.endswith("data.pkl"):
            data = data.replace(struct.pack("<i", MARKER), struct.pack("<i", elements))
        if info.filename.endswith("data/0"):
            payload = zero_stream(chunks) if compress else bytes(64)
            members.append((info.filename, payload, zipfile.ZIP_DEFLATED if compress else 0, crc, chunks * CHUNK))
        else:
            members.append((info.filename, data, 0, zlib.crc32(data), len(data)))
    return write_zip(members)


def with_extra_member(data: bytes, name: str, payload: bytes) -> bytes:
    """The checkpoint with one more (stored) member, which torch.load ignores."""
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(name, payload)
    return buffer.getvalue()


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as f:
        f.write(zero_bomb({"architecture": "notebook"}))
