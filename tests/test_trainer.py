"""The trainer's event stream on real digits, cancellation, divergence, and the prediction/evaluation primitives.

    python -m pytest -q tests/test_trainer.py
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import mnist_core.trainer as trainer
from mnist_core.config import TrainConfig
from mnist_core.data import Dataset
from mnist_core.nets import NotebookNet, make_net
from mnist_core.predict import evaluate, predict_proba


def _config(**fields) -> TrainConfig:
    return TrainConfig(**{"data": "mnist", "epochs": 1, "device": "cpu", **fields})


@pytest.fixture(scope="module")
def two_epochs(mnist_subset) -> list[dict]:
    """Events of 2 epochs on 2,000 real training digits (500 test digits), seed 0."""
    return list(trainer.train(_config(epochs=2), mnist_subset))


def test_loss_falls_on_real_digits(two_epochs):
    epochs = [e for e in two_epochs if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [0, 1]
    first_batch = next(e for e in two_epochs if e["type"] == "batch")
    assert first_batch["loss"] == pytest.approx(math.log(10), abs=0.15)  # untrained: uniform over 10 classes
    assert epochs[1]["train_loss"] < epochs[0]["train_loss"] < first_batch["loss"]
    assert epochs[1]["test_loss"] < epochs[0]["test_loss"]
    assert epochs[1]["test_accuracy"] > 0.7  # chance is 0.1; the notebook net gets ~0.8 from 2,000 digits


def test_event_stream_shape(two_epochs):
    assert [e["type"] for e in two_epochs][-1] == "finished"
    batches = [e for e in two_epochs if e["type"] == "batch"]
    assert {e["batches"] for e in batches} == {32}  # ceil(2000 / 64)
    assert [e["batch"] for e in batches if e["epoch"] == 1][-1] == 32  # every epoch reports its last batch
    assert all(b["elapsed"] <= a["elapsed"] for a, b in zip(batches[1:], batches, strict=False))


def test_finished_event_carries_probabilities(two_epochs, mnist_subset):
    final = two_epochs[-1]
    probs = final["test_probs"]
    assert probs.shape == (500, 10) and probs.dtype == torch.float32
    assert (probs >= 0).all()
    assert torch.allclose(probs.sum(dim=1), torch.ones(500), atol=1e-5)
    accuracy = (probs.argmax(dim=1) == mnist_subset.test_labels).float().mean().item()
    assert final["test_accuracy"] == pytest.approx(accuracy)
    assert final["test_accuracy"] == two_epochs[-2]["test_accuracy"]
    assert isinstance(final["net"], NotebookNet)


def test_cancel_between_batches_stops_at_once(mnist_subset):
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) >= 3

    events = list(trainer.train(_config(epochs=5), mnist_subset, should_stop=should_stop))
    assert events[-1] == {"type": "cancelled", "epoch": 0, "batch": 3}
    assert len(calls) == 3  # asked after every batch, and nothing ran after the answer
    assert [e["type"] for e in events].count("batch") <= 3


def test_exploding_learning_rate_fails_with_a_clear_message(mnist_subset):
    events = list(trainer.train(_config(lr=1e6), mnist_subset))
    assert events[-1]["type"] == "failed"
    assert "finished" not in {e["type"] for e in events}
    assert events[-1]["error"].startswith("loss became ")
    assert "in epoch 0" in events[-1]["error"] and "lower the learning rate" in events[-1]["error"]


def test_poisoned_weights_fail_on_the_first_batch(mnist_subset, monkeypatch):
    def poisoned_net(name: str, num_classes: int = 10) -> torch.nn.Module:
        net = make_net(name, num_classes)
        with torch.no_grad():
            net.fc1.weight[0, 0] = float("nan")
        return net

    monkeypatch.setattr(trainer, "make_net", poisoned_net)
    events = list(trainer.train(_config(), mnist_subset))
    assert events == [{"type": "failed", "error": "loss became nan in epoch 0, batch 0: lower the learning rate "
                                                  "or check the data"}]


class _NanWhenEvaluating(NotebookNet):
    """Trains normally but predicts NaN: weights that broke after the last loss the trainer looked at."""

    def forward(self, x):
        out = super().forward(x)
        return out if self.training else out * float("nan")


def test_non_finite_test_predictions_fail_instead_of_finishing(mnist_subset, monkeypatch):
    d = mnist_subset
    tiny = Dataset("mnist", d.train_images[:128], d.train_labels[:128], d.test_images[:64], d.test_labels[:64],
                   d.class_names)
    monkeypatch.setattr(trainer, "make_net", lambda name, num_classes=10: _NanWhenEvaluating(num_classes))
    events = list(trainer.train(_config(), tiny))
    assert events[-1] == {"type": "failed", "error": "test predictions became non-finite after epoch 0: "
                                                     "lower the learning rate or check the data"}


def test_evaluate_matches_a_hand_computed_confusion_matrix():
    probs = np.array([[0.7, 0.2, 0.1],   # true 0, predicted 0
                      [0.1, 0.8, 0.1],   # true 0, predicted 1
                      [0.2, 0.5, 0.3],   # true 1, predicted 1
                      [0.6, 0.3, 0.1],   # true 1, predicted 0
                      [0.3, 0.3, 0.4],   # true 1, predicted 2
                      [0.25, 0.25, 0.5]])  # true 2, predicted 2
    labels = np.array([0, 0, 1, 1, 1, 2])
    result = evaluate(torch.tensor(probs), torch.tensor(labels))
    assert result["confusion"].tolist() == [[1, 1, 0],
                                            [1, 1, 1],
                                            [0, 0, 1]]
    assert result["accuracy"] == pytest.approx(3 / 6)
    assert result["per_class_accuracy"] == pytest.approx([1 / 2, 1 / 3, 1.0])
    p_given = [0.7, 0.1, 0.5, 0.3, 0.3, 0.5]
    assert result["loss"] == pytest.approx(-sum(math.log(p) for p in p_given) / 6)


def test_evaluate_marks_classes_without_examples_and_survives_zero_probabilities():
    result = evaluate(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([1, 1]))
    assert result["confusion"].tolist() == [[0, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert math.isnan(result["per_class_accuracy"][0]) and math.isnan(result["per_class_accuracy"][2])
    assert result["loss"] == pytest.approx(-math.log(1e-12) / 2)  # p = 0 is clipped, not infinite


def test_predict_proba_matches_softmax_of_the_model(mnist_subset):
    torch.manual_seed(1)
    model = make_net("notebook").train()
    images = mnist_subset.test_images[:300]
    mean, std = 0.1307, 0.3081
    with torch.no_grad():  # the oracle: the model's logits, normalised by hand, softmaxed in one go
        x = ((images.to(torch.float32) / 255 - mean) / std).reshape(300, 1, 28, 28)
        expected = torch.softmax(model(x), dim=1)
    probs = predict_proba(model, images, mean, std, batch_size=128)  # 128 + 128 + 44
    assert probs.shape == (300, 10) and probs.dtype == torch.float32 and probs.device.type == "cpu"
    assert torch.allclose(probs, expected, atol=1e-6)
    assert model.training  # put back as it was
    empty = predict_proba(model, images[:0], mean, std)
    assert empty.shape == (0, 10) and empty.dtype == torch.float32


def test_predict_proba_uses_eval_mode():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(784, 10)).train()
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
    first, second = predict_proba(net, images, 0.0, 1.0), predict_proba(net, images, 0.0, 1.0)
    assert torch.equal(first, second)  # dropout off: the same answer twice
    assert net.training
