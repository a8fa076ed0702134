"""Real read-only and full file systems for tests: a read-only bind mount, a tiny tmpfs.

The tests run as root, for whom chmod changes nothing, so a refusal to write must come from a mount. Where
mounting is not allowed (no CAP_SYS_ADMIN) the test is skipped, saying so.

    from mounts import mounted
    with mounted("--bind", "-o", "ro", str(src), str(target)): ...
    with mounted("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(target)): ...
"""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def mounted(*args: str) -> Iterator[None]:
    """`mount ARGS` (the last one the mount point) for the block's duration; skips the test if refused."""
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip()}): needs root with CAP_SYS_ADMIN")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", args[-1]], check=True)
