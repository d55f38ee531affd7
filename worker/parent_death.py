"""A child process that ends with its parent: the kernel signals it when the parent dies."""

import contextlib
import ctypes
import signal

PR_SET_PDEATHSIG = 1
"""prctl's option: the signal the kernel sends a process when its parent dies (Linux); in
truth when the parent's thread that started it ends."""


def die_with_parent(sig: signal.Signals) -> None:
    """Asks the kernel for `sig` when this process's parent dies; elsewhere than Linux,
    nothing."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
