"""Data sources by name: local MNIST IDX files, the data dir, the offline `mnist-sample` split, missing files.

    python -m pytest -q tests/test_data_sources.py
"""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch

from mnist_core.data import (
    BUILTIN_SOURCES,
    DIGITS,
    MNIST_MEAN,
    MNIST_STD,
    DataError,
    default_data_dir,
    list_data_sources,
    load_dataset,
)


def test_mnist_reads_the_local_idx_files(mnist_full):
    d = mnist_full
    assert (len(d.train_labels), len(d.test_labels)) == (60000, 10000)
    assert d.train_images.shape == (60000, 28, 28) and d.train_images.dtype == torch.uint8
    assert d.test_images.shape == (10000, 28, 28) and d.test_labels.dtype == torch.int64
    assert d.class_names == DIGITS
    # MNIST's well-known class counts and pixel statistics, which the normalisation constants come from
    assert torch.bincount(d.train_labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    pixels = d.train_images.double() / 255
    assert pixels.mean().item() == pytest.approx(MNIST_MEAN, abs=1e-4)
    assert pixels.std().item() == pytest.approx(MNIST_STD, abs=1e-4)


def test_data_dir_comes_from_MNIST_DATA_DIR_else_data(monkeypatch, make_idx_dir):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    assert default_data_dir() == Path("data")
    root = make_idx_dir(n_train=300, n_test=100)
    monkeypatch.setenv("MNIST_DATA_DIR", str(root))
    assert default_data_dir() == root
    d = load_dataset("mnist")  # no data_dir: the env var decides
    assert (len(d.train_labels), len(d.test_labels)) == (300, 100)


def test_mnist_sample_is_a_stratified_80_20_split(mnist_sample):
    d = mnist_sample
    assert d.name == "mnist-sample" and d.class_names == DIGITS
    assert torch.bincount(d.train_labels, minlength=10).tolist() == [400] * 10
    assert torch.bincount(d.test_labels, minlength=10).tolist() == [100] * 10
    assert d.train_images.shape == (4000, 28, 28) and d.train_images.dtype == torch.uint8


def test_mnist_sample_split_is_deterministic_and_disjoint(mnist_sample):
    again = load_dataset("mnist-sample")
    assert torch.equal(again.train_images, mnist_sample.train_images)
    assert torch.equal(again.test_labels, mnist_sample.test_labels)
    train = {bytes(x) for x in mnist_sample.train_images.reshape(4000, -1).numpy()}
    test = {bytes(x) for x in mnist_sample.test_images.reshape(1000, -1).numpy()}
    assert len(train) == 4000 and len(test) == 1000  # no duplicate digits inside a split
    assert not train & test


def test_mnist_sample_digits_are_real_mnist_digits_with_their_labels(mnist_sample, mnist_full):
    label_of = {bytes(x): int(y) for x, y in zip(mnist_full.train_images.reshape(60000, -1).numpy(),
                                                  mnist_full.train_labels.tolist(), strict=True)}
    images = torch.cat([mnist_sample.train_images, mnist_sample.test_images]).reshape(5000, -1).numpy()
    labels = torch.cat([mnist_sample.train_labels, mnist_sample.test_labels]).tolist()
    assert [label_of.get(bytes(x)) for x in images] == labels


def test_unknown_source_names_the_available_ones(tmp_path):
    with pytest.raises(DataError, match=r"Unknown data source 'cifar'.*mnist, fashion-mnist, kmnist, mnist-sample"):
        load_dataset("cifar", tmp_path)
    assert list_data_sources(tmp_path) == list(BUILTIN_SOURCES)


def test_missing_mnist_without_download_says_where_and_how(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    with pytest.raises(DataError) as info:
        load_dataset("mnist", tmp_path, download=False)
    message = str(info.value)
    assert str(raw) in message and "train-images-idx3-ubyte" in message
    assert "downloading is off" in message and "MNIST_DATA_DIR" in message
    assert "`mnist-sample`" in message and "offline" in message
    assert "\n" not in message


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST"),
                                          ("kmnist", "KMNIST")])
def test_undownloadable_source_says_where_it_looked(tmp_path, name, folder):
    mirror = f"http://127.0.0.1:{_closed_port()}/"  # nothing listens there: connection refused
    with pytest.raises(DataError) as info:
        load_dataset(name, tmp_path, mirrors=[mirror])
    message = str(info.value)
    assert f"Could not load {name!r}" in message and str(tmp_path / folder / "raw") in message
    assert "downloading them failed" in message and mirror in message and "Connection refused" in message
    assert ("`mnist-sample`" in message) == (name == "mnist")
    assert "\n" not in message
