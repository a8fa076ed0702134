# MNIST Lab for a team server: the dashboard on port 8501, data and runs in the /data volume.
#
#   docker build -t mnist-lab .
#   docker run -d --name mnist-lab -p 8501:8501 -v mnist-lab:/data --restart unless-stopped mnist-lab
#
# CPU wheels of torch by default (GBs smaller than PyPI's CUDA build); for a GPU host build with
# --build-arg TORCH_INDEX=https://pypi.org/simple and run with --gpus all. See docs/deploy.md.
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MNIST_DATA_DIR=/data/data \
    MNIST_RUNS_DIR=/data/runs \
    ADDRESS=0.0.0.0 \
    PORT=8501

WORKDIR /app
COPY requirements.txt .
# torch and torchvision first, at requirements.txt's pins, from TORCH_INDEX; then the rest from PyPI
# (an installed 2.14.1+cpu satisfies torch==2.14.1).
RUN pip install --index-url "$TORCH_INDEX" $(grep -E '^torch(vision)?==' requirements.txt | cut -d' ' -f1) \
    && pip install -r requirements.txt

# The code belongs to root (read-only to the app); the app's user owns only /data.
COPY . .
RUN useradd --create-home --uid 1000 lab \
    && mkdir -p /data/data /data/runs \
    && chown -R lab:lab /data
USER lab
VOLUME ["/data"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = f\"http://127.0.0.1:{os.environ.get('PORT', '8501')}/_stcore/health\"; sys.exit(urllib.request.urlopen(url, timeout=4).read() != b'ok')"]

# scripts/serve.sh runs `streamlit run app.py --server.address $ADDRESS --server.port $PORT` (exec'd: it
# receives docker stop's SIGTERM).
CMD ["scripts/serve.sh"]
