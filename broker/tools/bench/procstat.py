"""What a process's own accounting says about it: CPU time (utime + stime) and peak RSS (VmHWM).

CPU per message is read from the kernel's counters of the measured process, not from wall time,
so a machine shared with other work does not inflate it (it does slow the wall-clock rates).
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process has used so far (fields 14 and 15 of /proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def peak_rss_mb(pid: int) -> float | None:
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float | None:
    """The process's resident memory now (VmRSS), as the operating system counts it."""
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int, field: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
