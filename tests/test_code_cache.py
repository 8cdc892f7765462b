"""The bytecode cache for attrs/cattrs-generated code: same behaviour, no compiling on reuse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nextword.server.code_cache import MAX_ENTRIES, CodeCache

SCRIPT = "def __init__(self, x):\n    self.x = x * factor\n"


def run(cache: CodeCache, script: str = SCRIPT, filename: str = "<generated init>") -> dict:
    namespace: dict = {"factor": 3}
    exec(cache.compile(script, filename, "exec"), namespace)
    return namespace


def test_cached_code_behaves_like_compiled_code_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "code.bin"
    first = CodeCache(path)
    first.load()
    obj = type("Obj", (), {"__init__": run(first)["__init__"]})(5)
    assert obj.x == 15 and (first.hits, first.misses) == (0, 1)
    first.save()
    assert path.is_file()

    second = CodeCache(path)
    second.load()
    namespace = run(second)
    assert (second.hits, second.misses) == (1, 0)
    # The cached code runs in the namespace it is given, as freshly compiled code does.
    namespace["factor"] = 10
    assert type("Obj", (), {"__init__": namespace["__init__"]})(5).x == 50
    assert namespace["__init__"].__code__.co_filename == "<generated init>"
    # A different file name or source is a different entry.
    run(second, filename="<another>")
    run(second, script=SCRIPT.replace("*", "+"))
    assert (second.hits, second.misses) == (1, 2)


def test_damaged_or_foreign_cache_files_mean_compiling_as_before(tmp_path: Path) -> None:
    for content in (
        b"",
        b"not a cache",
        b"nextword-code-cache-1\n\x00garbage",
        b"nextword-code-cache-1\n" + b"\xe9" * 40,
    ):
        path = tmp_path / "code.bin"
        path.write_bytes(content)
        cache = CodeCache(path)
        cache.load()
        assert run(cache)["__init__"] and cache.misses == 1
        cache.save()  # replaced by a good one
        again = CodeCache(path)
        again.load()
        run(again)
        assert again.hits == 1


def test_unwritable_cache_folder_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = CodeCache(blocker / "code.bin")  # its folder cannot be created
    run(cache)
    cache.save()
    assert blocker.read_text() == "x"


def test_other_compile_calls_pass_through(tmp_path: Path) -> None:
    cache = CodeCache(tmp_path / "code.bin")
    assert cache.compile("1 + 2", "<expr>", "eval", dont_inherit=True) is not None
    assert eval(cache.compile(b"40 + 2", "<bytes>", "eval")) == 42
    assert cache.hits == cache.misses == 0


def test_the_file_keeps_what_was_used_first_and_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "code.bin"
    old = CodeCache(path)
    for n in range(MAX_ENTRIES + 10):
        old.compile(f"x = {n}", "<old>", "exec")
    old.save()
    cache = CodeCache(path)
    cache.load()
    cache.compile("y = 1", "<new>", "exec")
    cache.save()
    reloaded = CodeCache(path)
    reloaded.load()
    reloaded.compile("y = 1", "<new>", "exec")
    assert reloaded.hits == 1 and len(reloaded._code) == MAX_ENTRIES


def test_the_server_fills_the_cache_and_reuses_it(tmp_path: Path) -> None:
    """Real processes importing what the server imports: the first compiles the protocol
    types' methods and saves them; the second compiles (almost) none of them."""
    probe = (
        "from nextword.server import code_cache\n"
        "cache = code_cache.install()\n"
        "import lsprotocol.types, pygls.lsp.server\n"
        "code_cache.save()\n"
        "print(cache.hits, cache.misses)\n"
    )
    env = {**os.environ, "NEXTWORD_CACHE_DIR": str(tmp_path / "cache")}
    counts = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
        counts.append(tuple(int(v) for v in out.split()))
    (hits1, misses1), (hits2, misses2) = counts
    assert misses1 > 500 and hits1 == 0
    # One attrs class (cattrs's AttributeOverride) hashes with a per-process salt written
    # into its generated source, so it is compiled anew each time.
    assert misses2 <= 1 and hits2 >= misses1 - 1


async def test_a_language_server_session_leaves_the_cache_for_the_next_start(tmp_path: Path) -> None:
    from server_support import lsp_client, wait_for

    cache_dir = tmp_path / "cache"
    async with lsp_client(data_dir=tmp_path / "data", env={"NEXTWORD_CACHE_DIR": str(cache_dir)}):
        saved = await wait_for(lambda: list(cache_dir.glob("generated-code.*.bin")), timeout=10)
    cache = CodeCache(saved[0])
    cache.load()
    assert len(cache._code) > 500
