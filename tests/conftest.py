"""Suite-wide settings: every graph pass is followed by the verifier; tests marked
``gpu`` run only where an NVIDIA GPU and its driver are usable."""
import functools
import os
import shutil
import subprocess

import pytest

os.environ.setdefault("TC_VERIFY_PASSES", "1")


@functools.lru_cache(maxsize=None)
def gpu_usable() -> bool:
    """Whether ``nvidia-smi -L`` lists a GPU (it fails without a driver)."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        proc = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "GPU" in proc.stdout


def pytest_collection_modifyitems(config, items):
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_tests and not gpu_usable():
        skip = pytest.mark.skip(reason="needs an NVIDIA GPU with a driver (nvidia-smi -L "
                                       "lists none)")
        for item in gpu_tests:
            item.add_marker(skip)
