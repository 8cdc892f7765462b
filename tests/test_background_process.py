"""The process the server's background work on the notes runs in: a priority below the server's."""

from __future__ import annotations

import os

import pytest
from nextword.server.background_process import NICENESS, background_pool


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no process priorities to lower here")
def test_the_background_process_runs_below_the_server_s_priority() -> None:
    pool = background_pool()
    try:
        theirs = pool.submit(os.nice, 0).result(timeout=60)
        pid = pool.submit(os.getpid).result(timeout=60)
    finally:
        pool.shutdown()
    assert pid != os.getpid()
    assert theirs == min(os.nice(0) + NICENESS, 19)
