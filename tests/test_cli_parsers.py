"""Every command line of the lab reports a bad argument the same way: one line `error: ...`, exit status 2.

    python -m pytest -q tests/test_cli_parsers.py
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mnist_core import train, transfer
from mnist_core.own_data import __main__ as own_data_cli
from mnist_core.review import __main__ as review

CASES = {  # (main, argv, what the one line says)
    "train, unknown flag": (train.main, ["--learning-rate", "0.1"], "unrecognized arguments: --learning-rate"),
    "own data, no subcommand": (own_data_cli.main, [], "the following arguments are required: command"),
    "own data, bad seed": (own_data_cli.main, ["import", "x.zip", "--name", "x", "--seed", "one"],
                           "argument --seed: invalid int value: 'one'"),
    "transfer, unknown subcommand": (transfer.main, ["send"], "argument command: invalid choice: 'send'"),
    "transfer, missing argument": (transfer.main, ["export", "runs/x"], "the following arguments are required: out"),
    "review, missing --run": (review.main, ["suspects"], "the following arguments are required: --run"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_argument_is_one_line_and_exit_status_2(case, capsys):
    main, argv, message = CASES[case]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "usage:" not in err and "Traceback" not in err


@pytest.mark.parametrize("package, argv", [("mnist_core.own_data", ["list", "--data-dir", "{tmp}"]),
                                           ("mnist_core.review", ["--help"])])
def test_the_packages_run_with_python_m(package, argv, tmp_path):
    done = subprocess.run([sys.executable, "-m", package, *[a.format(tmp=tmp_path) for a in argv]],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
