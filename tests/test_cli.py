"""The training CLI as a person runs it: `python -m mnist_core.train`.

Bad arguments exit non-zero with one line on stderr and no traceback; a tiny run prints the notebook's lines.
The issue's cases run as real subprocesses, started together (each spends its time importing torch); more
cases go through `main(argv)` in this process, which is the same code without the start-up cost.

    python -m pytest -q tests/test_cli.py
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from idxfiles import idx_bytes

from mnist_core import runs
from mnist_core.train import main

REPO_ROOT = Path(__file__).resolve().parent.parent
# batch 16: 250 steps, so one epoch's average loss is below 1 as in the notebook's lines (~0.9, ~5 s)
TINY = ["--data", "mnist-sample", "--epochs", "1", "--batch-size", "16", "--device", "cpu"]

SUBPROCESS_CASES = {
    "unknown data": (["--data", "cifar10"], 2, r"error: data: unknown data source 'cifar10'; allowed: mnist, "
                                                r"fashion-mnist, kmnist, mnist-sample"),
    "negative lr": (["--lr", "-1"], 2, r"error: lr: must be a number > 0, got -1.0"),
    "zero epochs": (["--epochs", "0"], 2, r"error: epochs: must be an integer >= 1, got 0"),
    "unknown flag": (["--learning-rate", "0.1"], 2, r"error: unrecognized arguments: --learning-rate 0.1"),
}
if not torch.cuda.is_available():
    SUBPROCESS_CASES["cuda without a GPU"] = (["--device", "cuda"], 2, r"error: device 'cuda' was asked for, but "
                                              r"no CUDA GPU is available here; use 'auto' or 'cpu'")

IN_PROCESS_CASES = {
    "epochs not a number": (["--epochs", "ten"], 2, r"error: argument --epochs: invalid int value: 'ten'"),
    "unknown device": (["--device", "tpu"], 2, r"error: device: unknown device 'tpu'; allowed: auto, cpu, cuda"),
    "unknown recipe": (["--recipe", "turbo"], 2, r"error: argument --recipe: invalid choice: 'turbo'"),
    "infinite lr": (["--lr", "inf"], 2, r"error: lr: must be a number > 0, got inf"),
    "unknown augmentation": (["--augment", "mixup"], 2,
                             r"error: augment: unknown augmentation 'mixup'; allowed: none, shift, affine"),
    "ema of 1": (["--ema", "1"], 2, r"error: ema: must be in \[0, 1\) \(0: no weight average\), got 1.0"),
    "unknown precision": (["--precision", "fp16"], 2,
                          r"error: precision: unknown precision 'fp16'; allowed: auto, float32, bfloat16"),
    "runs dir is a file": (["--runs-dir", "{tmp}/a-file"], 2, r"error: cannot create a run folder in .*/a-file: "),
    "corrupt data files": (["--data", "mnist", "--data-dir", "{tmp}/corrupt", "--runs-dir", "{tmp}/runs"], 1,
                           r"error: run failed: DataError: .*train-labels-idx1-ubyte is truncated: .*"
                           r"\(run folder: .*/runs/\d{8}-\d{6}-[0-9a-f]{4}\)"),
}


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mnist_core.train", *args], cwd=REPO_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, tuple[int, str, str]]:
    """The subprocess cases and a tiny training run, all started at once: name -> (exit code, stdout, stderr)."""
    tmp = tmp_path_factory.mktemp("cli")
    cases = {name: args for name, (args, _, _) in SUBPROCESS_CASES.items()}
    cases["tiny run"] = [*TINY, "--runs-dir", str(tmp / "runs"), "--data-dir", str(tmp / "data")]
    procs = {name: _start(args) for name, args in cases.items()}
    return {name: (p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for name, p in procs.items()}


def _assert_one_line_error(code, stdout, stderr, expected_code, expected):
    assert code == expected_code, stderr
    assert "Traceback" not in stderr and stdout == ""
    assert len(stderr.splitlines()) == 1, stderr
    assert re.fullmatch(expected + r".*\n", stderr), stderr


@pytest.mark.parametrize("case", list(SUBPROCESS_CASES))
def test_bad_arguments_exit_with_one_line_and_no_traceback(results, case):
    _, expected_code, expected = SUBPROCESS_CASES[case]
    _assert_one_line_error(*results[case], expected_code, expected)


@pytest.mark.parametrize("case", list(IN_PROCESS_CASES))
def test_more_bad_arguments_in_process(tmp_path, capsys, case):
    args, expected_code, expected = IN_PROCESS_CASES[case]
    (tmp_path / "a-file").write_text("not a folder")
    raw = tmp_path / "corrupt" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(idx_bytes(bytes(10 * 784), (10, 28, 28)))
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(bytes(5), (10,)))  # 5 of the 10 labels it promises
    (raw / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(bytes(4 * 784), (4, 28, 28)))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(bytes(4), (4,)))
    try:
        code = main([a.format(tmp=tmp_path) for a in args])
    except SystemExit as exc:  # argparse's errors exit from inside parse_args
        code = exc.code
    _assert_one_line_error(code, *capsys.readouterr(), expected_code, expected)


def test_recipe_fields_can_be_overridden_from_the_command_line():
    from mnist_core.train import build_config, parse_args

    best = build_config(parse_args(["--recipe", "best"]))
    assert (best.augment, best.ema) != ("none", 0.0)
    plain = build_config(parse_args(["--recipe", "best", "--augment", "none", "--ema", "0", "--label-smoothing", "0"]))
    assert (plain.augment, plain.ema, plain.label_smoothing, plain.architecture) == ("none", 0.0, 0.0,
                                                                                      best.architecture)
    assert build_config(parse_args(["--recipe", "notebook"])).precision == "float32"
    assert build_config(parse_args(["--recipe", "notebook", "--precision", "bfloat16"])).precision == "bfloat16"
    assert build_config(parse_args(["--recipe", "fast", "--precision", "auto"])).precision == "auto"


def test_tiny_run_prints_the_notebook_lines(results):
    code, stdout, stderr = results["tiny run"]
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert re.fullmatch(r"Epoch 0/1: average loss 0\.\d{5}  \(test loss \d\.\d{4}, test accuracy 0\.\d{4}\)",
                        lines[0]), stdout
    assert re.fullmatch(r"test accuracy: 0\.\d{4}", lines[1]), stdout
    run_dir = Path(re.fullmatch(r"run folder: (.+)", lines[2]).group(1))
    info = runs.read_run(run_dir)
    assert info.status == "finished" and lines[1] == f"test accuracy: {info.test_accuracy:.4f}"
    assert info.test_accuracy > 0.85  # one epoch, batch 16, on 4,000 real digits: about 0.91
    assert (run_dir / "model.pt").is_file() and (run_dir / "probs.npz").is_file()
    assert "Traceback" not in stderr


def test_list_data_prints_the_sources(tmp_path, capsys):
    assert main(["--list-data", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "mnist\nfashion-mnist\nkmnist\nmnist-sample\n"
