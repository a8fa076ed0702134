"""Happy paths of a dataset import: zip (with and without train/test folders, colour, odd sizes, dark-on-light),
npz (NxHxW and Nx1xHxW, uint8 and float), server folder, the stored format, preview, list, remove, CLI.

    python -m pytest -q tests/test_datasets_import.py
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from dataset_files import (
    SHAPES,
    encode,
    make_zip,
    npz_bytes,
    shape_arrays,
    shape_files,
    shape_image,
    shape_zip,
    write_tree,
)

from mnist_core.data import list_data_sources, load_dataset
from mnist_core.own_data import __main__ as own_data_cli
from mnist_core.own_data import datasets
from mnist_core.own_data.convert import decode_image, fit_batch, fit_to_mnist


def sorted_rows(images: np.ndarray) -> list[bytes]:
    """The images as a multiset (the import shuffles them)."""
    return sorted(np.asarray(image).tobytes() for image in images)


def test_zip_of_class_folders_gets_a_seeded_stratified_split():
    analysis = datasets.analyse_bytes("shapes.zip", shape_zip(10), test_fraction=0.2, seed=3)
    assert analysis.class_names == ["bar", "box", "dash"]  # folder names, sorted
    assert analysis.counts() == {"train": {"bar": 8, "box": 8, "dash": 8}, "test": {"bar": 2, "box": 2, "dash": 2}}
    assert analysis.split == {"kind": "stratified", "test_fraction": 0.2, "seed": 3}
    arrays = analysis.arrays()
    assert arrays["train_images"].dtype == np.uint8 and arrays["train_images"].shape == (24, 28, 28)
    assert arrays["test_labels"].dtype == np.int64
    expected = sorted_rows(shape_image(k, i) for k in SHAPES for i in range(10))
    assert sorted_rows(np.concatenate([arrays["train_images"], arrays["test_images"]])) == expected
    again = datasets.analyse_bytes("shapes.zip", shape_zip(10), test_fraction=0.2, seed=3).arrays()
    other = datasets.analyse_bytes("shapes.zip", shape_zip(10), test_fraction=0.2, seed=4).arrays()
    assert np.array_equal(again["test_images"], arrays["test_images"])
    assert not np.array_equal(other["test_images"], arrays["test_images"])


def test_labels_follow_class_folders():
    analysis = datasets.analyse_bytes("shapes.zip", shape_zip(6))
    for image, label in zip(analysis.data.images, analysis.data.labels, strict=True):
        kind = analysis.class_names[label]
        assert any(np.array_equal(image, shape_image(kind, i)) for i in range(6))


def test_zip_with_train_and_test_folders_keeps_that_split_inside_a_wrapper_folder():
    files = (shape_files(7, prefix="pets/train/") | shape_files(3, prefix="pets/test/", start=7)
             | {"pets/README.md": b"hi", "pets/test/bar/copy.png": encode(shape_image("bar", 0))})
    analysis = datasets.analyse_bytes("pets.zip", make_zip(files), test_fraction=0.5)
    assert analysis.split["kind"] == "folders"
    assert analysis.counts() == {"train": {"bar": 6, "box": 7, "dash": 7}, "test": {"bar": 4, "box": 3, "dash": 3}}
    skipped = dict(analysis.data.skipped)
    assert skipped["pets/README.md"] == "not an image (or not PNG, JPEG, BMP or TIFF)"
    assert skipped["pets/train/bar/000.png"] == "duplicate of pets/test/bar/copy.png"  # no test image leaks


def test_folders_around_the_layout_are_looked_through():
    files = shape_files(3, prefix="home/me/pets/") | {"home/": b"", "home/me/": b"", "home/me/pets/empty/": b"",
                                                        "elsewhere/": b""}
    analysis = datasets.analyse_bytes("x.zip", make_zip(files))
    assert analysis.class_names == ["bar", "box", "dash"]
    assert analysis.empty_classes == ["empty (no usable images)"]


def test_empty_class_folders_and_hidden_files_are_reported():
    files = shape_files(4) | {"empty/": b"", "bad/notes.txt": b"x", "__MACOSX/bar/._000.png": b"x",
                              "bar/.DS_Store": b"x"}
    analysis = datasets.analyse_bytes("x.zip", make_zip(files))
    assert analysis.class_names == ["bar", "box", "dash"]
    assert analysis.empty_classes == ["bad (no usable images)", "empty (no usable images)"]
    skipped = dict(analysis.data.skipped)
    assert skipped["__MACOSX/bar/._000.png"] == skipped["bar/.DS_Store"] == "hidden or system file"


def test_classes_missing_from_a_split_are_reported():
    files = shape_files(3, prefix="train/") | shape_files(2, prefix="test/", start=3, kinds=("bar", "box"))
    assert datasets.analyse_bytes("x.zip", make_zip(files)).empty_classes == ["dash (no test images)"]
    one_dash = make_zip(shape_files(3, kinds=("bar", "box")) | shape_files(1, kinds=("dash",)))
    analysis = datasets.analyse_bytes("x.zip", one_dash)
    assert analysis.empty_classes == ["dash (no test images)"]  # a single image stays in train
    assert "Empty classes: dash (no test images)" in analysis.report()


def test_duplicates_by_content_are_skipped():
    same = encode(shape_image("bar", 0))
    analysis = datasets.analyse_bytes("x.zip", make_zip(shape_files(4) | {"box/copy.png": same}))
    assert ("box/copy.png", "duplicate of bar/000.png") in analysis.data.skipped
    assert len(analysis.data.labels) == 12


def test_folder_names_that_are_numbers_sort_as_numbers():
    files = {f"{k}/{i}.png": encode(shape_image(SHAPES[k % 3], 10 * k + i)) for k in (1, 2, 10) for i in range(3)}
    assert datasets.analyse_bytes("x.zip", make_zip(files)).class_names == ["1", "2", "10"]


def test_dark_on_light_images_are_inverted_exactly():
    light = {f"{k}/{i}.png": encode(255 - shape_image(k, i)) for k in SHAPES for i in range(4)}
    analysis = datasets.analyse_bytes("x.zip", make_zip(light))
    assert analysis.data.inverted == 12
    expected = sorted_rows(shape_image(k, i) for k in SHAPES for i in range(4))
    assert sorted_rows(analysis.data.images) == expected


def test_colour_jpeg_bmp_tiff_and_odd_sizes_become_28x28_grayscale():
    wide = np.zeros((30, 60, 3), dtype=np.uint8)
    wide[8:22, 16:44] = (0, 200, 0)  # a green block on black, in a picture twice as wide as high
    tall = 255 - np.repeat(shape_image("bar", 0, size=(40, 80))[..., None], 3, axis=2)  # dark on white, RGB
    files = {"wide/a.jpg": encode(wide, "JPEG"), "wide/b.bmp": encode(wide, "BMP"),
             "tall/a.tiff": encode(tall, "TIFF"), "tall/b.png": encode(tall, "PNG")}
    converted = {path: decode_image(data) for path, data in files.items()}
    bmp, size, inverted = converted["wide/b.bmp"]
    assert bmp.shape == (28, 28) and bmp.dtype == np.uint8 and size == (60, 30) and not inverted
    assert (bmp[:7] == 0).all() and (bmp[21:] == 0).all()  # 60x30 -> 28x14, padded 7 rows above and below
    assert bmp[14, 14] == round(0.587 * 200)  # green 200 in luma
    tiff, size, inverted = converted["tall/a.tiff"]
    assert size == (40, 80) and inverted
    assert (tiff[:, :7] == 0).all() and (tiff[:, 21:] == 0).all()  # 40x80 -> 14x28, padded at the sides
    assert tiff[14].argmax() == 13 and tiff[14, 13] > 200  # the thin bar, light after inversion
    analysis = datasets.analyse_bytes("x.zip", make_zip(files), test_fraction=0.5)
    assert analysis.class_names == ["tall", "wide"]
    assert analysis.data.image_sizes == {"60x30": 2, "40x80": 2} and analysis.data.inverted == 2
    assert sorted_rows(analysis.data.images) == sorted_rows(image for image, _, _ in converted.values())


@pytest.mark.parametrize("layout, dtype", [("NHW", np.uint8), ("N1HW", np.float32), ("NHW", np.float64),
                                           ("N1HW", np.uint8)])
def test_npz_shapes_and_dtypes(layout, dtype):
    images, labels = shape_arrays(5)
    data = images.astype(dtype) / (255.0 if np.issubdtype(dtype, np.floating) else 1)
    if layout == "N1HW":
        data = data[:, None]
    analysis = datasets.analyse_bytes("d.npz", npz_bytes(images=data, labels=labels, class_names=np.array(SHAPES)))
    assert analysis.class_names == list(SHAPES)
    assert analysis.source["kind"] == "npz"
    assert np.array_equal(analysis.data.images, images) and np.array_equal(analysis.data.labels, labels)


def test_dark_on_light_npz_is_inverted_like_image_files():
    images, labels = shape_arrays(4)
    analysis = datasets.analyse_bytes("d.npz", npz_bytes(images=255 - images, labels=labels))
    assert analysis.data.inverted == 12 and np.array_equal(analysis.data.images, images)


def test_batch_conversion_matches_one_by_one():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    images[:100, [0, -1], :] = 250  # bright top and bottom rows: a border mean just over 127.5 for some
    fitted, inverted = fit_batch(images)
    one_by_one = [fit_to_mnist(image) for image in images]
    assert inverted == sum(flag for _, flag in one_by_one) and 0 < inverted < 300
    assert np.array_equal(fitted, np.stack([image for image, _ in one_by_one]))


def test_npz_with_split_arrays_and_odd_sizes():
    train = np.stack([shape_image(SHAPES[i % 3], i, size=(56, 56)) for i in range(9)])
    test = np.stack([shape_image(SHAPES[i % 3], 50 + i, size=(56, 56)) for i in range(3)])
    data = npz_bytes(train_images=train, train_labels=np.arange(9) % 3, test_images=test, test_labels=np.arange(3))
    analysis = datasets.analyse_bytes("d.npz", data)
    assert analysis.split["kind"] == "arrays"
    assert analysis.class_names == ["0", "1", "2"]
    assert analysis.counts() == {"train": {"0": 3, "1": 3, "2": 3}, "test": {"0": 1, "1": 1, "2": 1}}
    assert analysis.data.image_sizes == {"56x56": 12}
    assert sorted_rows(analysis.arrays()["test_images"]) == sorted_rows(fit_to_mnist(t)[0] for t in test)


def test_server_folder_import_matches_the_zip_import(tmp_path):
    write_tree(tmp_path / "src", shape_files(5))
    os.symlink("/etc/hostname", tmp_path / "src" / "bar" / "link.png")
    os.mkfifo(tmp_path / "src" / "dash" / "pipe.png")  # opening it for reading would block forever
    from_folder = datasets.analyse_path(tmp_path / "src")
    from_zip = datasets.analyse_bytes("x.zip", shape_zip(5))
    assert from_folder.source["kind"] == "folder"
    assert from_folder.data.skipped == [("bar/link.png", "symbolic link (not followed)"),
                                        ("dash/pipe.png", "not a regular file (never opened)")]
    assert np.array_equal(from_folder.arrays()["train_images"], from_zip.arrays()["train_images"])
    assert datasets.analyse_path(tmp_path / "src").source["sha256"] == from_folder.source["sha256"]


def test_real_mnist_digits_survive_the_png_round_trip_exactly(mnist_full):
    mnist = mnist_full
    images, labels = mnist.test_images[:300].numpy(), mnist.test_labels[:300].numpy()
    files = {f"digits/{label}/{i}.png": encode(image) for i, (image, label) in enumerate(zip(images, labels,
                                                                                            strict=True))}
    analysis = datasets.analyse_bytes("digits.zip", make_zip(files))
    assert analysis.data.inverted == 0 and not analysis.data.skipped
    assert analysis.class_names == [str(d) for d in range(10)]
    assert sorted_rows(analysis.data.images) == sorted_rows(images)


def test_commit_stores_the_documented_format_and_becomes_a_data_source(tmp_path):
    analysis = datasets.analyse_bytes("shapes.zip", shape_zip(5))
    folder = datasets.commit(analysis, "shapes", tmp_path / "datasets")
    assert sorted(p.name for p in (tmp_path / "datasets").iterdir()) == ["shapes"]  # no staging left behind
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["name"] == "shapes" and manifest["class_names"] == ["bar", "box", "dash"]
    assert manifest["counts"] == analysis.counts()
    assert manifest["source"]["kind"] == "zip" and len(manifest["source"]["sha256"]) == 64
    assert manifest["image_sizes"] == {"28x28": 15} and manifest["created"]
    assert "shapes" in list_data_sources(tmp_path)
    loaded = load_dataset("shapes", tmp_path)
    assert loaded.class_names == ["bar", "box", "dash"]
    assert np.array_equal(loaded.train_images.numpy(), analysis.arrays()["train_images"])
    assert loaded.train_labels.dtype.is_floating_point is False and loaded.test_images.shape == (3, 28, 28)


def test_preview_gives_the_first_25_training_images_with_their_labels():
    analysis = datasets.analyse_bytes("shapes.zip", shape_zip(12))
    shown = datasets.preview(analysis)
    assert shown.images.shape == (25, 28, 28)
    assert np.array_equal(shown.images, analysis.arrays()["train_images"][:25])
    assert shown.titles == [analysis.class_names[k] for k in analysis.arrays()["train_labels"][:25]]
    assert len(set(shown.titles)) == 3  # stored order is shuffled, so the grid shows every class
    assert shown.counts == analysis.counts()


def test_list_and_remove(datasets_dir):
    datasets.commit(datasets.analyse_bytes("a.zip", shape_zip(3)), "first")
    datasets.commit(datasets.analyse_bytes("b.zip", shape_zip(4)), "second")
    assert [m["name"] for m in datasets.list_imported()] == ["first", "second"]
    datasets.remove_dataset("first")
    assert [m["name"] for m in datasets.list_imported()] == ["second"]
    assert sorted(p.name for p in datasets_dir.iterdir()) == ["second"]


def test_cli_import_list_remove(tmp_path, capsys):
    source = tmp_path / "shapes.zip"
    source.write_bytes(shape_zip(5))
    data_dir = str(tmp_path / "data")
    assert own_data_cli.main(["import", str(source), "--name", "shapes", "--data-dir", data_dir, "--dry-run"]) == 0
    assert "dry run: nothing was written" in capsys.readouterr().out
    assert not (tmp_path / "data" / "datasets" / "shapes").exists()
    assert own_data_cli.main(["import", str(source), "--name", "shapes", "--test-fraction", "0.4",
                          "--data-dir", data_dir]) == 0
    out = capsys.readouterr().out
    assert "Images: 15 in 3 classes: 9 train, 6 test" in out and "python -m mnist_core.train --data shapes" in out
    assert own_data_cli.main(["list", "--data-dir", data_dir]) == 0
    assert capsys.readouterr().out == "shapes: 3 classes, 9 train, 6 test, from shapes.zip\n"
    assert own_data_cli.main(["remove", "shapes", "--data-dir", data_dir]) == 0
    assert list_data_sources(data_dir)[-1] == "mnist-sample"
