#!/usr/bin/env bash
# Serve MNIST Lab to a team from this machine with one command; data and runs persist across restarts.
#
#   scripts/serve.sh                        # http://<this machine>:8501, state in ~/mnist-lab/{data,runs}
#   PORT=8600 MNIST_LAB_HOME=/srv/mnist-lab scripts/serve.sh
#
# Environment: PORT (8501), ADDRESS (0.0.0.0: every interface; 127.0.0.1 for this machine only),
# MNIST_LAB_HOME (~/mnist-lab), MNIST_DATA_DIR ($MNIST_LAB_HOME/data), MNIST_RUNS_DIR ($MNIST_LAB_HOME/runs),
# PYTHON (python). The Docker image runs this script too. Stop it with Ctrl-C (or SIGTERM).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
PORT=${PORT:-8501}
ADDRESS=${ADDRESS:-0.0.0.0}
MNIST_LAB_HOME=${MNIST_LAB_HOME:-$HOME/mnist-lab}
export MNIST_DATA_DIR=${MNIST_DATA_DIR:-$MNIST_LAB_HOME/data}
export MNIST_RUNS_DIR=${MNIST_RUNS_DIR:-$MNIST_LAB_HOME/runs}

if ! mkdir -p "$MNIST_DATA_DIR" "$MNIST_RUNS_DIR" 2>/dev/null || [ ! -w "$MNIST_RUNS_DIR" ]; then
  echo "error: cannot write to $MNIST_RUNS_DIR (and $MNIST_DATA_DIR); set MNIST_LAB_HOME to a writable folder" >&2
  exit 1
fi
if ! "$PYTHON" -c "import streamlit, torch" 2>/dev/null; then
  echo "error: $PYTHON cannot import streamlit and torch; install them with: pip install -r requirements.txt" >&2
  exit 1
fi
echo "MNIST Lab on http://$ADDRESS:$PORT  data: $MNIST_DATA_DIR  runs: $MNIST_RUNS_DIR"
# Runs queued before a restart start now, with no page open; runs whose worker died are written as failed.
"$PYTHON" -m mnist_core.jobs dispatch || echo "warning: the training queue could not be dispatched" >&2
# exec: the server replaces this shell, so Ctrl-C, SIGTERM and `docker stop` reach it directly.
exec "$PYTHON" -m streamlit run app.py --server.address "$ADDRESS" --server.port "$PORT" \
  --server.fileWatcherType none --browser.gatherUsageStats false
