"""The teaching notebook's training loop, written out as it stands: the reference every speed figure is against.

    python benchmarks/notebook_reference.py [--epochs 10] [--steps N] [--test]

torchvision's MNIST with a per-item `ToTensor` transform, a DataLoader with batch 64 and no shuffle, the
notebook's `Network` (plain nn.Conv2d layers, written out below), Adam(lr=1e-3), cross-entropy,
`loss.detach().cpu().item()` every batch; prints the notebook's per-epoch line and the seconds taken.
`--test` also runs the notebook's test loop (batch 32).
Data from MNIST_DATA_DIR or ../shared/data.
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from common import data_dir  # first: puts the repository root on sys.path
from torchvision import transforms


class Network(nn.Module):
    """The notebook's network as the notebook writes it (mnist_core.nets.Network is the same maths, with
    a cheaper first-conv weight gradient; the reference must not get that)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=5)
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=12, kernel_size=5)
        self.fc1 = nn.Linear(in_features=12 * 4 * 4, out_features=120)
        self.fc2 = nn.Linear(in_features=120, out_features=60)
        self.out = nn.Linear(in_features=60, out_features=10)

    def forward(self, x):
        t = F.max_pool2d(F.relu(self.conv1(x)), kernel_size=2, stride=2)
        t = F.max_pool2d(F.relu(self.conv2(t)), kernel_size=2, stride=2)
        t = t.reshape(-1, 12 * 4 * 4)
        t = F.relu(self.fc1(t))
        t = F.relu(self.fc2(t))
        return self.out(t)


def mnist(train: bool) -> torchvision.datasets.MNIST:
    return torchvision.datasets.MNIST(root=str(data_dir()), train=train, download=False,
                                      transform=transforms.Compose([transforms.ToTensor()]))


def train_notebook(epochs: int = 1, max_steps: int | None = None, seed: int = 0,
                   verbose: bool = True) -> tuple[float, list[float], Network]:
    """Run the notebook's loop; return (seconds, average loss per epoch, network). Data loading is not timed."""
    torch.manual_seed(seed)  # the same initial weights as mnist_core.trainer.train with this seed
    my_dataset = mnist(train=True)
    network = Network()
    loader = torch.utils.data.DataLoader(my_dataset, batch_size=64)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    averages = []
    start = time.perf_counter()
    for epoch in range(epochs):
        losses = list()
        for batch in itertools.islice(loader, max_steps):
            images = batch[0]
            labels = batch[1]
            logits = network(images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach().cpu().item())
        averages.append(float(np.mean(np.array(losses))))
        if verbose:
            print(f"Epoch {epoch}/{epochs}: average loss {averages[-1]:.5f}", flush=True)
    return time.perf_counter() - start, averages, network


def test_notebook(network: Network) -> tuple[float, torch.Tensor]:
    """The notebook's test loop (DataLoader batch 32, softmax): (seconds, (10000, 10) probabilities)."""
    test_loader = torch.utils.data.DataLoader(mnist(train=False), shuffle=False, batch_size=32)
    start = time.perf_counter()
    probs = []
    with torch.no_grad():
        for images, _ in test_loader:
            probs.append(F.softmax(network(images), dim=1))
    return time.perf_counter() - start, torch.cat(probs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=None, help="stop each epoch after this many batches")
    p.add_argument("--test", action="store_true", help="also run the notebook's test loop")
    args = p.parse_args()
    seconds, _, network = train_notebook(args.epochs, args.steps)
    print(f"training: {seconds:.2f} s")
    if args.test:
        seconds, probs = test_notebook(network)
        accuracy = (probs.argmax(1) == mnist(train=False).targets).float().mean().item()
        print(f"test loop: {seconds:.2f} s, test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
