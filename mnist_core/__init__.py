"""MNIST Lab core: data, models, training, prediction, run and review stores.

Never imports streamlit: every computation here is a plain function a test can call.

Importing it (before torch) makes torch's OpenMP threads sleep at once when they wait instead of spinning
for ~3 ms: on a busy machine spinning threads took a training step from 15 ms to 235-470 ms, on an idle one
sleeping costs little (benchmarks/omp_wait.py measures both). OMP_WAIT_POLICY or GOMP_SPINCOUNT, when set, win.
"""
import os

if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # read by libgomp when torch loads it
