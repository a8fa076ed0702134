# MNIST Lab for a team server: the dashboard on port 8501, data and runs in the /data volume.
#
#   docker build -t mnist-lab .
#   docker run -d --init --name mnist-lab -p 8501:8501 -v mnist-lab:/data --restart unless-stopped mnist-lab
#
# The CPU lock by default (requirements-cpu.txt: torch's CPU build, about 5 GB smaller than PyPI's CUDA
# build); for a GPU host build with --build-arg REQUIREMENTS=requirements.txt and run with --gpus all.
FROM python:3.11-slim

ARG REQUIREMENTS=requirements-cpu.txt
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MNIST_DATA_DIR=/data/data \
    MNIST_RUNS_DIR=/data/runs \
    ADDRESS=0.0.0.0 \
    PORT=8501

WORKDIR /app
COPY requirements.txt requirements-cpu.txt ./
# Exactly the locked versions (scripts/lock.py writes both locks from requirements.in).
RUN pip install -r "$REQUIREMENTS"

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
