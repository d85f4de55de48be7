"""Keep TensorFlow's C++ start-up notices (oneDNN, CPU instructions) out of notebooks and logs."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_native_stderr():
    """Point file descriptor 2 at /dev/null for the duration: TensorFlow logs its import-time
    notices from C++ before TF_CPP_MIN_LOG_LEVEL is read, so no setting silences them. Python
    exceptions raised inside are unaffected (they surface after the descriptor is restored)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras():
    """Import and return Keras (and so its TensorFlow backend) without the start-up notices."""
    if "keras" not in sys.modules:
        with quiet_native_stderr():
            import keras  # noqa: F401
    return sys.modules["keras"]
