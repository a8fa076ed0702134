"""Test helper (not a test file): wait for something another process does, or fail saying what.

    from waiting import wait_for
    wait_for(lambda: runs.read_run(run_dir).status != "running", 120, "the worker to finish")
"""
import time


def wait_for(condition, timeout: float, what: str):
    """condition()'s first truthy value within `timeout` seconds, polled every 0.05 s; else AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
