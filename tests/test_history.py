"""prediction_changes (mnist_core/history.py) on a hand-made history of three epochs.

    OMP_NUM_THREADS=1 python -m pytest -q tests/test_history.py
"""
from __future__ import annotations

import numpy as np
import pytest

from mnist_core.history import prediction_changes

# Four images, labels 0 1 2 0; predicted per epoch: [1 1 2 0], [0 1 0 0], [0 2 1 0]
ONEHOT = np.eye(3, dtype=np.float16)
HISTORY = np.stack([ONEHOT[[1, 1, 2, 0]], ONEHOT[[0, 1, 0, 0]], ONEHOT[[0, 2, 1, 0]]])
LABELS = np.array([0, 1, 2, 0])


def test_changes_between_two_epochs():
    out = prediction_changes(HISTORY, LABELS, 0, 2)
    assert out["indices"].tolist() == [0, 1, 2]  # image 0 became right; 1 and 2 went wrong
    assert out["pred_first"].tolist() == [1, 1, 2] and out["pred_second"].tolist() == [0, 2, 1]
    assert (out["fixed"], out["broken"], out["other"]) == (1, 2, 0)


def test_wrong_to_another_wrong_class_and_no_change():
    out = prediction_changes(HISTORY, LABELS, 1, 2)
    assert out["indices"].tolist() == [1, 2] and (out["fixed"], out["broken"], out["other"]) == (0, 1, 1)
    assert len(prediction_changes(HISTORY, LABELS, 1, 1)["indices"]) == 0


@pytest.mark.parametrize("first, second", [(-1, 0), (0, 3)])
def test_epoch_out_of_range(first, second):
    with pytest.raises(ValueError, match="epoch must be between 0 and 2"):
        prediction_changes(HISTORY, LABELS, first, second)
