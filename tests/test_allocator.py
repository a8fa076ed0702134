"""mnist_core.allocator: after keep_freed_memory, glibc serves an 8 MB block from its heap instead of a fresh
mmap (mallinfo2's hblkhd, the bytes in mmapped blocks); MNIST_KEEP_FREED_MEMORY=0 leaves the defaults.
Each case runs in a fresh interpreter: the settings are process-wide."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import ctypes
from mnist_core.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
tuned = keep_freed_memory()
before = libc.mallinfo2().hblkhd
block = libc.malloc(8 << 20)
print(int(tuned), libc.mallinfo2().hblkhd - before)
libc.free(block)
"""

if not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "mallinfo2"):
    pytest.skip("glibc's mallinfo2 is needed to see where a block came from", allow_module_level=True)


def mmapped_bytes_of_a_block(setting: str) -> tuple[bool, int]:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True,
                          env=os.environ | {"MNIST_KEEP_FREED_MEMORY": setting})
    tuned, mmapped = done.stdout.split()
    return tuned == "1", int(mmapped)


def test_a_kept_heap_serves_large_blocks_without_a_fresh_mmap():
    assert mmapped_bytes_of_a_block("1") == (True, 0)


def test_the_setting_0_leaves_glibc_mapping_large_blocks():
    tuned, mmapped = mmapped_bytes_of_a_block("0")
    assert not tuned and mmapped >= 8 << 20
