"""The machine a benchmark ran on, with its load, so figures are read against both."""

import os
import platform
from pathlib import Path


def describe(load_before: tuple[float, ...], load_after: tuple[float, ...]) -> dict:
    """CPUs, CPU model, platform, Python and the 1-minute load average before and after
    (`os.getloadavg()` values): this machine is shared, so compare figures within a run."""
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m_before": round(load_before[0], 2),
        "load_average_1m_after": round(load_after[0], 2),
    }


def summary_line(date: str, host: dict) -> str:
    """The report line that says when and where a benchmark ran (a `describe` record)."""
    return (
        f"{date}; {host['cpus']} CPUs ({host['cpu_model']}), {host['platform']}, "
        f"Python {host['python']}; 1-minute load average {host['load_average_1m_before']} "
        f"before, {host['load_average_1m_after']} after (the machine is shared: compare "
        "figures within one run)."
    )
