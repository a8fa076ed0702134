"""The speed work: the fast/best nets and recipes, the CPU training shortcuts (same maths), the notebook's loss.

    python -m pytest -q tests/test_speed_recipes.py

Timings are not tested here (see benchmarks/); these tests pin behaviour and values: the nets' shapes, the
recipes (augmentation: tests/test_augment.py), that the `fast` recipe learns from the offline sample through
the CLI, and that the `notebook` recipe's first epoch on the real 60,000 digits ends at the notebook's average
loss.
"""
from __future__ import annotations

import dataclasses
import os
import re
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mnist_core import runs
from mnist_core.config import RECIPE_NOTES, RECIPES, ConfigError, TrainConfig, apply_recipe
from mnist_core.device import autocast, cpu_has_bf16
from mnist_core.nets import ARCHITECTURES, make_net
from mnist_core.train import main
from mnist_core.trainer import make_optimizer, train

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here trains or predicts: one intra-op thread (tests/conftest.py says why)."""


@pytest.mark.parametrize("name", ["fast", "best", "wide", "deep"])
@pytest.mark.parametrize("num_classes", [2, 10, 100])
def test_recipe_nets_give_logits_per_class_and_learn(name, num_classes):
    torch.manual_seed(0)
    net = make_net(name, num_classes)
    x = torch.rand(5, 1, 28, 28)
    logits = net(x)
    assert logits.shape == (5, num_classes) and logits.dtype == torch.float32
    F.cross_entropy(logits, torch.arange(5) % num_classes).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    net.eval()
    assert net(x[:1]).shape == (1, num_classes)  # one image in eval mode (BatchNorm running stats)


def test_recipes_validate_and_keep_the_notebook_maths():
    assert {"default", "notebook", "fast", "best"} <= set(RECIPES) and set(RECIPE_NOTES) == set(RECIPES)
    for name in RECIPES:
        config = apply_recipe(TrainConfig(data="mnist", seed=3, device="cpu"), name).validate(known_data=["mnist"])
        assert (config.recipe, config.data, config.seed, config.device) == (name, "mnist", 3, "cpu")
        assert config.architecture in ARCHITECTURES
    notebook = apply_recipe(TrainConfig(), "notebook")
    assert (notebook.architecture, notebook.batch_size, notebook.lr, notebook.optimizer, notebook.shuffle,
            notebook.normalize, notebook.schedule, notebook.augment, notebook.epochs, notebook.ema) == \
        ("notebook", 64, 1e-3, "adam", False, False, "constant", "none", 10, 0.0)
    default = apply_recipe(TrainConfig(), "default")
    unshuffled = dataclasses.replace(default, shuffle=False, normalize=False, precision="float32", recipe="notebook")
    assert unshuffled == notebook
    fast = apply_recipe(TrainConfig(), "fast")
    assert (fast.architecture, fast.epochs, fast.lr, fast.label_smoothing) == ("best", 1, 1e-2, 0.1)
    assert apply_recipe(TrainConfig(), "best").augment != "none"
    with pytest.raises(ConfigError, match="recipe: unknown recipe 'turbo'"):
        apply_recipe(TrainConfig(), "turbo")


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_nets_are_nhwc_and_compute_what_the_plain_layout_does(name):
    torch.manual_seed(0)
    net = make_net(name).eval()
    plain = make_net(name).to(memory_format=torch.contiguous_format).eval()
    plain.load_state_dict(net.state_dict())
    conv = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]  # > 1 input channel: layouts differ
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)  # every net is NHWC (see make_net)
    x = torch.rand(8, 1, 28, 28)
    torch.testing.assert_close(net(x), plain(x), rtol=1e-4, atol=1e-5)


def test_optimizers_are_fused_and_notebook_adam():
    net = make_net("notebook")
    for name in ("adam", "adamw", "sgd"):  # tests/test_optim.py compares each with torch.optim's fused step
        optimizer = make_optimizer(TrainConfig(optimizer=name, lr=1e-3), net)
        assert (optimizer.kind, optimizer.lr) == (name, 1e-3)
    adam = make_optimizer(TrainConfig(), net)
    assert (adam.kind, adam.beta1, adam.beta2, adam.eps, adam.weight_decay) == ("adam", 0.9, 0.999, 1e-8, 0.0)


def test_autocast_follows_the_precision(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)  # autocast(cuda) turns it on
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)  # torch's default; float32 on CUDA turns it off
    x = torch.rand(2, 1, 28, 28)
    for precision in ("auto", "float32"):
        with autocast(torch.device("cpu"), precision):
            assert make_net("fast")(x).dtype == torch.float32  # auto keeps the CPU in float32
    with autocast(torch.device("cpu"), "bfloat16"):
        assert make_net("best")(x).dtype == torch.bfloat16
    assert not torch.backends.cudnn.benchmark
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else nullcontext():
        on_cuda = autocast(torch.device("cuda"))
        assert torch.backends.cudnn.allow_tf32
        off_cuda = autocast(torch.device("cuda"), "float32")
        assert not torch.backends.cudnn.allow_tf32  # float32 convolutions, not TF32's 10-bit mantissas
    assert (on_cuda.device, on_cuda.fast_dtype) == ("cuda", torch.bfloat16) and torch.backends.cudnn.benchmark
    assert on_cuda._enabled == torch.cuda.is_available() and not off_cuda._enabled


@pytest.mark.parametrize("flags, expected", [("fpu avx2 avx512f avx512_bf16 sha_ni", True),
                                              ("fpu avx2 amx_bf16 amx_tile", True),
                                              ("fpu avx2 avx512f avx512bw", False), (None, False)])
def test_cpu_has_bf16_reads_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    if flags is not None:  # None: no cpuinfo at all (not Linux)
        cpuinfo.write_text(f"processor\t: 0\nmodel name\t: a CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert cpu_has_bf16(str(cpuinfo)) is expected


def test_only_the_fast_recipe_trains_in_bfloat16_and_only_where_the_cpu_has_it():
    assert RECIPES["fast"]["precision"] == ("bfloat16" if cpu_has_bf16() else "auto")
    # notebook: float32 on a GPU too (auto would be bfloat16 there), the notebook's maths and no slower
    assert {name: recipe["precision"] for name, recipe in RECIPES.items() if name != "fast"} == \
        {"default": "auto", "notebook": "float32", "best": "auto"}


def test_bfloat16_training_learns_as_float32_does_and_auto_is_float32_on_cpu(mnist_sample):
    config = TrainConfig(architecture="best", epochs=1, batch_size=64, lr=1e-2, schedule="onecycle", device="cpu")
    finished = {}
    for precision in ("auto", "float32", "bfloat16"):
        events = list(train(dataclasses.replace(config, precision=precision), mnist_sample))
        finished[precision] = ([e["loss"] for e in events if e["type"] == "batch"], events[-1])
    assert finished["auto"][0] == finished["float32"][0]  # the same float32 maths, to the last bit
    bf16_losses, bf16_done = finished["bfloat16"]
    assert bf16_done["type"] == "finished" and bf16_losses != finished["float32"][0]
    assert bf16_losses[-1] == pytest.approx(finished["float32"][0][-1], rel=0.1)  # it learns just as well
    assert bf16_done["test_probs"].dtype == torch.float32  # predictions stay float32
    assert all(p.dtype == torch.float32 for p in bf16_done["net"].parameters())


def test_fast_recipe_cli_learns_the_offline_sample(tmp_path, capsys):
    code = main(["--recipe", "fast", "--epochs", "1", "--data", "mnist-sample", "--device", "cpu",
                 "--runs-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.8  # chance is 0.1; 1 epoch of 4,000 digits
    run = runs.read_run(Path(re.search(r"run folder: (.+)", out).group(1)))
    assert run.status == "finished" and run.config["recipe"] == "fast" and run.config["architecture"] == "best"


@pytest.mark.slow
def test_notebook_recipe_first_epoch_loss_matches_the_notebook(mnist_full):
    """The notebook printed 0.36806 for epoch 0; the same maths on the same 60,000 digits must land there."""
    dataset = mnist_full
    config = dataclasses.replace(apply_recipe(TrainConfig(data="mnist", device="cpu"), "notebook"), epochs=1)
    events = list(train(config, dataset))
    epoch = next(e for e in events if e["type"] == "epoch")
    assert epoch["train_loss"] == pytest.approx(0.365, abs=0.05)
    assert epoch["test_accuracy"] > 0.93


@pytest.mark.parametrize("env,expected", [({}, "30000"), ({"GOMP_SPINCOUNT": "5"}, "5"),
                                          ({"OMP_WAIT_POLICY": "PASSIVE"}, None)])
def test_importing_the_core_bounds_openmp_spinning_unless_the_user_chose(env, expected):
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", "import os, mnist_core; print(os.environ.get('GOMP_SPINCOUNT'))"],
                         env={**clean, **env}, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(expected)


def test_predict_proba_folds_batchnorm_into_a_copy_with_the_same_outputs():
    from mnist_core.predict import fold_batchnorm, predict_proba

    torch.manual_seed(0)
    net = make_net("best").train()
    for scale in (0.5, 1.0, 2.0):  # running statistics away from their initial 0 / 1
        net(torch.rand(32, 1, 28, 28) * scale)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, torch.nn.Identity) for m in folded.modules()) == 3  # one per conv block
    assert net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # untouched
    images = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        expected = torch.softmax(net.eval()(((images.float() / 255 - 0.13) / 0.31)[:, None]), dim=1)
    net.train()
    torch.testing.assert_close(predict_proba(net, images, 0.13, 0.31), expected, rtol=0, atol=1e-5)
    assert net.training


def test_the_folded_copy_is_made_again_when_the_weights_change():
    from mnist_core.predict import predict_proba

    torch.manual_seed(0)
    net = make_net("best")
    images = torch.randint(0, 256, (20, 28, 28), dtype=torch.uint8)
    first = predict_proba(net, images, 0.13, 0.31)
    assert torch.equal(predict_proba(net, images, 0.13, 0.31), first)  # the cached copy: the same answer
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    F.cross_entropy(net(images[:, None].float() / 255), torch.arange(20) % 10).backward()
    optimizer.step()  # in place: the parameters' versions move on
    after = predict_proba(net, images, 0.13, 0.31)
    with torch.no_grad():
        expected = torch.softmax(net.eval()(((images.float() / 255 - 0.13) / 0.31)[:, None]), dim=1)
    assert not torch.allclose(after, first, atol=1e-4)
    torch.testing.assert_close(after, expected, rtol=0, atol=1e-5)
