"""The real download code path: torchvision fetches md5-checked .gz files from a local HTTP mirror.

A thread serves gzipped copies of the shared IDX files on 127.0.0.1; the tests point `mirrors` at it.
torchvision checks each .gz against the md5 in `<Class>.resources`; the tests patch those to the sums of
their own .gz files (the production code keeps torchvision's real checksums, which one test relies on).

    python -m pytest -q tests/test_download.py
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading

import pytest
import torch
import torchvision.datasets as tvd
from idxfiles import write_idx_subset

from mnist_core.data import IDX_FILES, DataError, load_dataset

IDX_NAMES = [f for pair in IDX_FILES.values() for f in pair]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def mirror_root(tmp_path_factory, shared_data_dir):
    """full/: the four real files gzipped; small/: 1,000/200-example subsets gzipped. Nothing else exists."""
    root = tmp_path_factory.mktemp("mirror")
    small_raw = root / "small-raw"
    write_idx_subset(shared_data_dir / "MNIST" / "raw", small_raw, n_train=1000, n_test=200)
    for folder, source in (("full", shared_data_dir / "MNIST" / "raw"), ("small", small_raw)):
        (root / folder).mkdir()
        for name in IDX_NAMES:
            (root / folder / f"{name}.gz").write_bytes(gzip.compress((source / name).read_bytes(), compresslevel=1))
    return root


@pytest.fixture(scope="module")
def mirror_url(mirror_root):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(mirror_root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _trust_mirror_files(monkeypatch, torchvision_class, folder):
    """Make torchvision accept exactly the .gz files in `folder` (their md5 sums replace the real ones)."""
    resources = [(f"{name}.gz", hashlib.md5((folder / f"{name}.gz").read_bytes()).hexdigest()) for name in IDX_NAMES]
    monkeypatch.setattr(torchvision_class, "resources", resources)


def test_mnist_downloads_verifies_and_loads_60k_10k(tmp_path, monkeypatch, mirror_root, mirror_url, mnist_full):
    _trust_mirror_files(monkeypatch, tvd.MNIST, mirror_root / "full")
    d = load_dataset("mnist", tmp_path, mirrors=[mirror_url + "full"])  # no trailing slash: added for torchvision
    assert (len(d.train_labels), len(d.test_labels)) == (60000, 10000)
    assert torch.equal(d.train_images, mnist_full.train_images)
    assert torch.equal(d.test_labels, mnist_full.test_labels)
    raw = tmp_path / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_NAMES + [f"{n}.gz" for n in IDX_NAMES])
    again = load_dataset("mnist", tmp_path, download=False)  # the files stay: no second download
    assert torch.equal(again.test_images, d.test_images)


@pytest.mark.parametrize("name, torchvision_class, first_classes", [
    ("fashion-mnist", tvd.FashionMNIST, ["T-shirt/top", "Trouser", "Pullover"]),
    ("kmnist", tvd.KMNIST, ["o", "ki", "su"]),
])
def test_other_torchvision_sources_download_into_their_own_folder(tmp_path, monkeypatch, mirror_root, mirror_url,
                                                                  name, torchvision_class, first_classes):
    _trust_mirror_files(monkeypatch, torchvision_class, mirror_root / "small")
    d = load_dataset(name, tmp_path, mirrors=[mirror_url + "small/"])
    assert d.name == name and d.class_names[:3] == first_classes and d.num_classes == 10
    assert (len(d.train_labels), len(d.test_labels)) == (1000, 200)
    assert (tmp_path / torchvision_class.__name__ / "raw" / "train-images-idx3-ubyte").is_file()


def test_files_failing_torchvisions_real_checksums_are_rejected(tmp_path, mirror_url):
    # Our .gz files are not byte-identical to the official ones, so the real md5 sums must refuse them.
    with pytest.raises(DataError, match=r"downloading them failed .*File not found or corrupted"):
        load_dataset("mnist", tmp_path, mirrors=[mirror_url + "small/"])
    assert not (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_mirror_that_404s_gives_the_helpful_message(tmp_path, mirror_url):
    with pytest.raises(DataError) as info:
        load_dataset("mnist", tmp_path, mirrors=[mirror_url + "nothing-here/"])
    message = str(info.value)
    assert "HTTP Error 404" in message and mirror_url + "nothing-here/" in message
    assert str(tmp_path / "MNIST" / "raw") in message and "downloading them failed" in message
    assert "`mnist-sample`" in message and "MNIST_DATA_DIR" in message
    assert "\n" not in message
