"""shield.py - turn stop signals into an exception, except while cleaning up.

install() makes SIGINT, SIGTERM, SIGHUP and SIGQUIT raise Interrupted in the main thread.
Inside `with shielded():` (stopping a fleet, restoring host KSM) a signal is only
remembered and raised once the block is over, so a second Ctrl-C cannot cut a cleanup
short. (pthread_sigmask would not do: the kernel may deliver the signal to another
thread, and Python runs the handler in the main thread anyway.)
"""
import contextlib
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_state = {"depth": 0, "pending": None}


class Interrupted(Exception):
    """A signal asked the benchmark to stop."""


def _raise(signum):
    raise Interrupted(f"interrupted by signal {signal.Signals(signum).name}")


def _on_signal(signum, _frame):
    if _state["depth"]:
        _state["pending"] = _state["pending"] or signum
        return
    _raise(signum)


def install():
    for s in STOP_SIGNALS:
        signal.signal(s, _on_signal)


@contextlib.contextmanager
def shielded():
    """Defer stop signals until the block ends (then raise Interrupted)."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
    if not _state["depth"] and _state["pending"]:
        signum, _state["pending"] = _state["pending"], None
        _raise(signum)
