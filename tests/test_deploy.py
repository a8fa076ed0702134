"""Deployment files: scripts/serve.sh starts the app with persistent data and runs folders, the Dockerfile's
HEALTHCHECK command tells a live server from a dead one, the Dockerfile and .streamlit/config.toml say what
docs/deploy.md says, and the Train page's loading spinner says when it downloads.

    python -m pytest tests/test_deploy.py -q
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import streamlit.config

from mnist_core.checkpoint import max_checkpoint_bytes
from mnist_core.own_data.archive import Limits
from tests.browser.harness import free_port, kill_group, wait_healthy
from ui.state import loading_message

ROOT = Path(__file__).resolve().parent.parent
SERVE = ROOT / "scripts" / "serve.sh"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines()
                                         if not line.lstrip().startswith("#")))
    return [(word.upper(), rest.strip()) for word, _, rest in (line.strip().partition(" ") for line in
                                                                  text.splitlines() if line.strip())]


def docker(instruction: str) -> list[str]:
    return [args for name, args in dockerfile_instructions() if name == instruction]


def serve_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MNIST_DATA_DIR", "MNIST_RUNS_DIR")}
    return dict(env, MNIST_LAB_HOME=str(home), PORT=str(port), ADDRESS="127.0.0.1")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """scripts/serve.sh on a free port with MNIST_LAB_HOME in a temporary folder: (process, port, home)."""
    home = tmp_path_factory.mktemp("lab-home")
    port = free_port()
    log = open(home / "serve.log", "wb")
    proc = subprocess.Popen([str(SERVE)], env=serve_env(home, port), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", 120, proc)
        yield proc, port, home
    finally:
        kill_group(proc.pid)
        proc.wait(timeout=30)
        log.close()


def test_serve_sh_runs_streamlit_with_persistent_folders(served):
    proc, port, home = served
    assert (home / "data").is_dir() and (home / "runs").is_dir()
    # exec'd: the script's own process is now the server, so signals (docker stop) reach it directly
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    assert [b"-m", b"streamlit", b"run", b"app.py"] == cmdline[1:5]
    assert cmdline[cmdline.index(b"--server.port") + 1] == str(port).encode()
    environ = dict(item.split(b"=", 1) for item in Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
                   if b"=" in item)
    assert environ[b"MNIST_RUNS_DIR"] == str(home / "runs").encode()
    assert environ[b"MNIST_DATA_DIR"] == str(home / "data").encode()


def test_dockerfile_healthcheck_passes_on_a_live_server_and_fails_on_a_dead_port(served):
    _, port, _ = served
    [healthcheck] = docker("HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3:])
    live = subprocess.run(command, env=dict(os.environ, PORT=str(port)), capture_output=True, timeout=30)
    dead = subprocess.run(command, env=dict(os.environ, PORT=str(free_port())), capture_output=True, timeout=30)
    assert live.returncode == 0, live.stderr
    assert dead.returncode != 0


def test_serve_sh_refuses_a_home_it_cannot_write(tmp_path):
    done = subprocess.run([str(SERVE)], env=serve_env(Path("/proc/no-such-dir/lab"), free_port()),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "cannot write to /proc/no-such-dir/lab/runs" in done.stderr


def test_dockerfile_matches_the_deployment_docs():
    assert docker("FROM") == ["python:3.11-slim"]
    env = dict(item.split("=", 1) for args in docker("ENV") for item in shlex.split(args))
    assert env["MNIST_DATA_DIR"] == "/data/data" and env["MNIST_RUNS_DIR"] == "/data/runs"
    assert env["ADDRESS"] == "0.0.0.0" and docker("EXPOSE") == [env["PORT"]]
    assert docker("VOLUME") == ['["/data"]']
    [user] = docker("USER")
    assert user not in ("root", "0")
    assert json.loads(docker("CMD")[0]) == ["scripts/serve.sh"] and os.access(SERVE, os.X_OK)
    # the image installs one of the two locks, the CPU one unless told otherwise
    assert [args for args in docker("RUN") if "pip install" in args] == ['pip install -r "$REQUIREMENTS"']
    assert docker("ARG") == ["REQUIREMENTS=requirements-cpu.txt"]
    assert "requirements-cpu.txt" in docker("COPY")[0].split()


def test_streamlit_config_uses_real_options_and_fits_the_upload_limits():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    known = streamlit.config._config_options_template
    names = [f"{section}.{key}" for section, values in config.items() for key in values]
    assert [n for n in names if n not in known] == []  # Streamlit only warns about unknown options
    assert config["server"]["headless"] is True and config["browser"]["gatherUsageStats"] is False
    assert config["server"]["maxUploadSize"] * 2**20 >= max(Limits().upload_bytes, max_checkpoint_bytes())


def test_loading_message_says_when_it_downloads(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    assert loading_message("mnist", tmp_path).startswith(f"Downloading mnist into {raw}: the first time only")
    assert loading_message("fashion-mnist", tmp_path).startswith("Downloading fashion-mnist into ")
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"")
    assert loading_message("mnist", tmp_path) == "Loading mnist…"
    assert loading_message("mnist-sample", tmp_path) == "Loading mnist-sample…"


def test_serve_sh_says_how_to_install_when_python_lacks_the_app(tmp_path):
    env = dict(serve_env(tmp_path, free_port()), PYTHON="false")  # an "interpreter" that imports nothing
    done = subprocess.run([str(SERVE)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "cannot import streamlit and torch" in done.stderr and "pip install -r requirements.txt" in done.stderr
