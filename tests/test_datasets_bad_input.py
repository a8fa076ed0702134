"""Every bad input to a dataset import gets a DataError with a specific message and writes nothing.

    python -m pytest -q tests/test_datasets_bad_input.py
"""
from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from dataset_files import (
    encode,
    lie_about_sizes,
    make_zip,
    npz_bytes,
    shape_arrays,
    shape_files,
    shape_image,
    shape_zip,
    write_tree,
    zip_with_raw_name,
    zip_with_symlink,
)

from mnist_core.data import DataError, list_data_sources
from mnist_core.own_data import __main__ as own_data_cli
from mnist_core.own_data import datasets
from mnist_core.own_data.archive import DEFAULT_LIMITS, Limits, read_limited


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def refuse(data: bytes, match: str, file_name: str = "upload.zip", limits: Limits = DEFAULT_LIMITS) -> str:
    with pytest.raises(DataError, match=match) as info:
        datasets.analyse_bytes(file_name, data, limits=limits)
    return str(info.value)


def test_zip_slip_member_is_refused():
    refuse(make_zip(shape_files(3) | {"../../evil.png": encode(shape_image("bar", 1))}), r"escapes the archive")


def test_backslash_zip_slip_member_is_refused():
    refuse(zip_with_raw_name(b"..\\..\\evil.png"), r"escapes the archive")


def test_absolute_member_path_is_refused():
    message = refuse(zip_with_raw_name(b"/etc/evil.png"), r"absolute path")
    assert "/etc/evil.png" in message


def test_symlink_member_is_refused():
    refuse(zip_with_symlink(), r"'bar/link.png' is a symbolic link")


def test_zip_bomb_by_declared_size_is_refused_before_reading():
    bomb = make_zip(shape_files(3) | {"bar/big.png": b"\0" * (3 * 2**20)})
    assert len(bomb) < 50_000  # 3 MB of zeros deflate to a few KB
    refuse(bomb, r"declares 3 MB of unpacked data; the limit is 1 MB", limits=Limits(unpacked_bytes=2**20))


def test_zip_bomb_with_lying_headers_is_refused_without_inflating():
    honest = make_zip({"bar/big.png": b"\0" * (30 * 2**20), "dash/a.png": encode(shape_image("dash", 0))})
    liar = lie_about_sizes(honest, declared=1000)  # headers claim 1 KB per member; the data inflates to 30 MB
    tracemalloc.start()
    try:
        refuse(liar, r"corrupt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20  # the 30 MB were never produced


def test_bytes_are_counted_while_reading_not_taken_from_headers():
    with pytest.raises(DataError, match="zip bomb"):
        read_limited(io.BytesIO(b"\0" * 5000), budget=4096, what="The archive")
    assert read_limited(io.BytesIO(b"\1" * 4096), budget=4096, what="x") == b"\1" * 4096


def test_folder_over_the_byte_limit_is_refused_while_reading(tmp_path):
    write_tree(tmp_path / "src", shape_files(20))  # a folder has no headers: only counting protects
    with pytest.raises(DataError, match="more data than allowed"):
        datasets.analyse_path(tmp_path / "src", limits=Limits(unpacked_bytes=2000))


def test_too_many_files_are_refused():
    refuse(shape_zip(4), r"12 members; the limit is 10 files", limits=Limits(files=10))


def test_too_many_files_in_a_folder_are_refused(tmp_path):
    write_tree(tmp_path / "src", shape_files(4))
    with pytest.raises(DataError, match="more than 10 files"):
        datasets.analyse_path(tmp_path / "src", limits=Limits(files=10))


def test_non_image_files_are_skipped_with_their_reason():
    analysis = datasets.analyse_bytes("x.zip", make_zip(shape_files(5) | {"bar/notes.txt": b"not a picture"}))
    assert ("bar/notes.txt", "not an image (or not PNG, JPEG, BMP or TIFF)") in analysis.data.skipped
    assert sum(analysis.counts()["train"].values()) + sum(analysis.counts()["test"].values()) == 15


def test_corrupt_and_truncated_pngs_are_skipped_as_corrupt():
    good = encode(shape_image("bar", 77))
    scrambled = good[:50] + b"\xff" * 10 + good[60:]  # inside the compressed pixel data
    analysis = datasets.analyse_bytes("x.zip", make_zip(shape_files(5) | {"bar/scrambled.png": scrambled,
                                                                           "bar/truncated.png": good[:60]}))
    reasons = dict(analysis.data.skipped)
    assert reasons["bar/scrambled.png"] == "corrupt image (OSError: broken data stream when reading image file)"
    assert reasons["bar/truncated.png"] == "corrupt image (OSError: image file is truncated)"
    assert len(analysis.data.labels) == 15


def test_archive_of_only_non_images_is_refused():
    message = refuse(make_zip({"a/x.txt": b"one", "b/y.txt": b"two"}), r"No usable images found")
    assert "2 not an image" in message


def test_empty_archive_is_refused():
    refuse(make_zip({}), r"empty")
    refuse(make_zip({"cat/": b"", "dog/": b""}), r"empty: it holds no files")


def test_not_a_zip_is_refused():
    refuse(b"this is plain text", r"not a readable zip file")


def test_zip_needing_an_unknown_version_is_refused():
    data = bytearray(shape_zip(3))
    entry = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, entry + 6, 150)  # "version needed to extract" 15.0: zipfile raises NotImplementedError
    refuse(bytes(data), r"not a readable zip file \(NotImplementedError: zip file version 15.0\)")


@pytest.mark.parametrize("file_name", ["shapes.zip", "shapes.npz"])
def test_randomly_damaged_files_only_ever_raise_dataset_errors(file_name):
    images, labels = shape_arrays(3)
    good = shape_zip(3) if file_name.endswith(".zip") else npz_bytes(images=images, labels=labels)
    rng = np.random.default_rng(1)
    for _ in range(300):
        damaged = bytearray(good)
        for at in rng.integers(0, len(good), rng.integers(1, 5)):
            damaged[at] = rng.integers(0, 256)
        try:
            datasets.analyse_bytes(file_name, bytes(damaged))
        except DataError:
            pass  # anything else (a traceback for the user) fails the test


def test_unknown_extension_is_refused():
    refuse(shape_zip(3), r"expected a \.zip of class folders or an \.npz", file_name="data.tar")


def test_upload_over_the_size_limit_is_refused():
    data = shape_zip(5)
    message = refuse(data, r"the upload limit is", limits=Limits(upload_bytes=len(data) - 1))
    assert "upload.zip" in message


def test_single_class_is_refused():
    refuse(make_zip(shape_files(6, kinds=("bar",))), r"Only one class \(bar\) has images")


def test_single_class_npz_is_refused():
    images, _ = shape_arrays(4)
    refuse(npz_bytes(images=images, labels=np.zeros(len(images), dtype=np.int64)), r"Only one class \(0\)",
           file_name="d.npz")


def test_npz_length_mismatch_is_refused():
    images, labels = shape_arrays(4)
    refuse(npz_bytes(images=images, labels=labels[:-1]), r"`labels` has shape \(11,\) but there are 12 images",
           file_name="d.npz")


def test_npz_labels_out_of_range_are_refused():
    images, labels = shape_arrays(4)
    names = np.array(["bar", "dash", "box"])
    refuse(npz_bytes(images=images, labels=labels + 1, class_names=names), r"class numbers 0\.\.2.*found 1\.\.3",
           file_name="d.npz")
    refuse(npz_bytes(images=images, labels=labels - 1), r"found -1\.\.1", file_name="d.npz")


def test_npz_float_labels_are_refused():
    images, labels = shape_arrays(4)
    refuse(npz_bytes(images=images, labels=labels + 0.5), r"labels must be integers", file_name="d.npz")


def test_npz_with_pickled_objects_is_refused():
    images, labels = shape_arrays(4)
    objects = np.empty(2, dtype=object)
    objects[:] = [{"a": 1}, print]  # np.savez pickles object arrays; loading them would unpickle
    refuse(npz_bytes(images=images, labels=labels, extra=objects), r"'extra'.*pickled Python objects",
           file_name="d.npz")


def test_npz_without_the_needed_arrays_is_refused():
    images, labels = shape_arrays(4)
    refuse(npz_bytes(x=images, y=labels), r"needs arrays `images` and `labels`.*it has: x, y", file_name="d.npz")
    refuse(npz_bytes(train_images=images, train_labels=labels), r"lacks test_images, test_labels",
           file_name="d.npz")


def test_npz_with_bad_pixels_is_refused():
    images, labels = shape_arrays(4)
    refuse(npz_bytes(images=images.astype(np.int32) * 2, labels=labels), r"pixel values from 0 to 510",
           file_name="d.npz")
    rgb = np.repeat(images[..., None], 3, axis=3)
    refuse(npz_bytes(images=rgb, labels=labels), r"expected grayscale images shaped \(N, H, W\)", file_name="d.npz")
    nan = images.astype(np.float32)
    nan[0, 0, 0] = np.nan
    refuse(npz_bytes(images=nan, labels=labels), r"NaN", file_name="d.npz")


def test_train_folder_without_test_folder_is_refused():
    refuse(shape_zip(3, prefix="train/"), r"Found a train/ folder but no test/ folder")


@pytest.mark.parametrize("name, match", [
    ("", "not allowed"), ("Cats", "not allowed"), ("-cats", "not allowed"), ("a" * 41, "not allowed"),
    ("../cats", "not allowed"), ("cats\n", "not allowed"), ("cat s", "not allowed"),
    ("mnist", "built-in data source"), ("mnist-sample", "built-in data source"),
])
def test_bad_and_builtin_names_are_refused(data_dir, name, match):
    analysis = datasets.analyse_bytes("x.zip", shape_zip(3))
    with pytest.raises(DataError, match=match):
        datasets.commit(analysis, name)
    assert files_under(data_dir) == []


def test_duplicate_name_is_refused_and_keeps_the_first(datasets_dir):
    first = datasets.commit(datasets.analyse_bytes("x.zip", shape_zip(3)), "shapes")
    before = (first / "data.npz").read_bytes()
    with pytest.raises(DataError, match="already exists"):
        datasets.commit(datasets.analyse_bytes("y.zip", shape_zip(4)), "shapes")
    assert (first / "data.npz").read_bytes() == before
    assert files_under(datasets_dir) == ["shapes", "shapes/data.npz", "shapes/manifest.json"]


def test_a_failed_commit_leaves_nothing_behind(data_dir, datasets_dir, monkeypatch):
    analysis = datasets.analyse_bytes("x.zip", shape_zip(3))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(datasets.np, "savez", full_disk)
    with pytest.raises(OSError):
        datasets.commit(analysis, "shapes")
    assert files_under(datasets_dir) == []
    assert "shapes" not in list_data_sources(data_dir)


def test_cli_reports_bad_input_in_one_line_and_writes_nothing(tmp_path, data_dir, capsys):
    bad = tmp_path / "slip.zip"
    bad.write_bytes(make_zip(shape_files(3) | {"../evil.png": b"x"}))
    code = own_data_cli.main(["import", str(bad), "--name", "slip", "--data-dir", str(data_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: Unsafe or unsupported archive: member '../evil.png'") and err.count("\n") == 1
    assert files_under(data_dir) == []
    assert not (tmp_path / "evil.png").exists()


def test_missing_path_and_bad_fraction_are_refused(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        datasets.analyse_path(tmp_path / "nope")
    with pytest.raises(DataError, match="test fraction must be between 0 and 1"):
        datasets.analyse_bytes("x.zip", shape_zip(3), test_fraction=1.0)


def test_unsupported_compression_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("bar/a.png", encode(shape_image("bar", 0)))
        archive.writestr("dash/a.png", encode(shape_image("dash", 0)))
    refuse(buffer.getvalue(), r"compression method 12")


def test_removing_something_that_is_not_an_imported_dataset_is_refused(data_dir):
    (data_dir / "MNIST").mkdir()
    for name in ("../data", "MNIST", "mnist", "nothing-here"):
        with pytest.raises(DataError, match="No imported dataset named"):
            datasets.remove_dataset(name, data_dir=data_dir)
    assert (data_dir / "MNIST").is_dir()
