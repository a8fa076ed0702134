"""Test helper (not a test file): moto's standalone S3 server on 127.0.0.1, a real S3 API for the artifact store.

    with s3_server(log_path) as endpoint:          # "http://127.0.0.1:PORT"
        env = s3_env(endpoint, "s3://bucket/prefix")   # what the app and its workers need to reach it
        new_bucket(endpoint, "bucket")

moto[server] comes with requirements-dev.txt, so `pip install` is all CI needs: the tests start the server.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import s3fs

ACCESS_KEY, SECRET_KEY = "testing", "artifact-test-secret-value-0123"  # moto takes any; the tests grep for it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def s3_server(log_path: Path, timeout_s: float = 60.0) -> Iterator[str]:
    """`python -m moto.server` on a free port; its URL once it answers, stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    urllib.request.urlopen(url + "/moto-api/", timeout=2).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"moto's server did not start on {url} (see {log_path}): "
                                           f"{Path(log_path).read_text(errors='replace')[-2000:]}") from None
                    time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def s3_env(endpoint: str, url: str) -> dict[str, str]:
    """The environment that points mnist_core.artifacts at `url` on the local server (listing uncached)."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
            "MNIST_ARTIFACTS": url, "MNIST_ARTIFACTS_ENDPOINT": endpoint, "MNIST_ARTIFACTS_LIST_TTL": "0"}


def new_bucket(endpoint: str, bucket: str) -> s3fs.S3FileSystem:
    """Create `bucket`; an S3 client of the test's own, to look inside the store and to damage it."""
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key=ACCESS_KEY, secret=SECRET_KEY, skip_instance_cache=True)
    fs.mkdir(bucket)
    return fs
