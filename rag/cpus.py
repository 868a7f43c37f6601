"""How many cores this process may run on."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The cores this process is allowed on (its affinity: a container's or taskset's limit),
    not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
