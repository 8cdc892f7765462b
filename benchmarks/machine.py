"""How fast this machine is right now, printed beside every latency figure.

The project's machine is shared: its speed swings about two times from hour to hour, and
its processor and its memory swing apart (a plain Python loop can run fast while reading
memory runs slow). A word boundary is bound by memory, a keystroke inside a word by the
processor, so a figure is read against both.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np


def python_loop_seconds() -> float:
    """Seconds a plain Python loop of 10 million steps takes (0.35 s in quiet spells)."""
    started = time.perf_counter()
    for _ in range(10_000_000):
        pass
    return time.perf_counter() - started


def memory_gb_per_second() -> float:
    """How fast one core reads 64 MB from memory (median of five passes), in GB/s."""
    data = np.ones(64 * 2**20 // 8)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        data.sum()
        times.append(time.perf_counter() - started)
    return data.nbytes / statistics.median(times) / 1e9


def cache_read_ms(pause_s: float) -> float:
    """Milliseconds to read 8 MB (about the weights a word boundary reads) again after
    ``pause_s`` of Python work that touches no memory (median of 30): other tenants of the
    machine evict it from the shared cache while we pause, some hours faster than others."""
    data = np.ones(8 * 2**20 // 8)
    times = []
    for _ in range(30):
        data.sum()
        end = time.perf_counter() + pause_s
        while time.perf_counter() < end:
            pass
        started = time.perf_counter()
        data.sum()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def describe() -> str:
    """One line: the Python loop's time, the memory read speed and how long data stays cached."""
    return (
        f"machine now: a 10^7-step Python loop {python_loop_seconds():.2f} s, memory read {memory_gb_per_second():.1f} GB/s, "
        f"8 MB read again {cache_read_ms(0.0):.2f} ms at once and {cache_read_ms(0.001):.2f} ms after 1 ms"
    )


# Reads 256 MB (far more than the shared cache holds) over and over until killed.
_STREAM_MEMORY = (
    "import numpy as np; data = np.ones(256 * 2**20 // 8); print('ready', flush=True)\nwhile True: data.sum()"
)


@contextlib.contextmanager
def noisy_neighbour() -> Iterator[None]:
    """Another process reads 256 MB through memory over and over while the block runs, on
    the other core: the shared cache and the memory bus as a busy tenant leaves them, so
    that a slow spell of the machine can be had on demand rather than waited for."""
    process = subprocess.Popen([sys.executable, "-c", _STREAM_MEMORY], stdout=subprocess.PIPE, text=True)
    try:
        if process.stdout is None or process.stdout.readline().strip() != "ready":
            raise RuntimeError("the noisy neighbour did not start")
        yield
    finally:
        process.kill()
        process.wait()
