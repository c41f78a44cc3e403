"""maplimit.py - vm.max_map_count for scenario 6: raise it, and put it back.

Every run of merged pages in a guest's RAM is a kernel mapping, and a fleet of 33 guests
cloned from a guest that rewrites its pages needs more than the kernel's default of 65530
mappings in one process (measured: the 33rd clone's image was refused at 56611 used).
README.md leaves raising the limit to the administrator; the benchmark, run as root, is
that administrator for scenario 6 only. It saves the value once (MapLimit.raise_to) and
MapLimit.restore writes it back; the saved value also goes to a file until restored, so a
benchmark killed with SIGKILL is repaired by the next one (MapLimit.recover).
"""
import json
import os

SYSCTL = "/proc/sys/vm/max_map_count"
SCENARIO6 = 262144  # mappings allowed while scenario 6 runs


class MapLimitError(Exception):
    """vm.max_map_count could not be read or written."""


def read():
    try:
        with open(SYSCTL) as f:
            return int(f.read())
    except (OSError, ValueError) as e:
        raise MapLimitError(f"cannot read {SYSCTL}: {e}") from e


def _write(value):
    try:
        with open(SYSCTL, "w") as f:
            f.write(str(value))
    except OSError as e:
        raise MapLimitError(f"cannot write {value} to {SYSCTL}: {e.strerror}") from e


class MapLimit:
    """Save, raise and restore vm.max_map_count."""

    def __init__(self, state_file):
        self.state_file = state_file
        self.saved = None

    def recover(self):
        """If an earlier benchmark died before restoring, restore what it saved.
        Returns that value, or None."""
        try:
            with open(self.state_file) as f:
                self.saved = json.load(f)["max_map_count"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise MapLimitError(f"cannot read {self.state_file}: {e}") from e
        found = self.saved
        self.restore()
        return found

    def raise_to(self, value):
        """At least @value from now on (never lowered). Returns {"host": the value found,
        "used": the value in force}."""
        host = read() if self.saved is None else self.saved
        if self.saved is None:
            os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
            with open(self.state_file, "w") as f:
                json.dump({"max_map_count": host}, f)
            self.saved = host
        if read() < value:
            _write(value)
        return {"host": host, "used": read()}

    def restore(self):
        """Write back the saved value. Idempotent."""
        if self.saved is None:
            return
        _write(self.saved)
        self.saved = None
        if os.path.exists(self.state_file):
            os.unlink(self.state_file)
