"""MNIST Lab core: data, models, training, prediction, run and review stores.

Never imports streamlit: every computation here is a plain function a test can call.

Importing it (before torch) bounds how long torch's OpenMP threads spin at a barrier before they sleep
(GOMP_SPINCOUNT=30000, about 0.1 ms, instead of libgomp's 300000). On an idle 2-core machine that is as fast as
spinning; on a busy one, long spins took 60 training steps from 1.2 s to 15 s, and sleeping at once
(OMP_WAIT_POLICY=PASSIVE) cost 15 % when idle (benchmarks/omp_wait.py measures all of these).
OMP_WAIT_POLICY or GOMP_SPINCOUNT, when set, win.
"""
import os

if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "30000"  # read by libgomp when torch loads it
