"""Cache of trained runs, keyed by their arguments, the hwlib code and the MNIST files.

A run is a module-level function that takes plain arguments (names, numbers,
lists) and returns plain data (NumPy arrays, CPU tensors, dicts). `cached_call`
stores its return value with joblib.Memory, which writes each entry to a
temporary folder and renames it, so an interrupted run leaves no entry behind
and the next call recomputes it.
"""

import functools
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import joblib

from hwlib import data

log = logging.getLogger(__name__)

T = TypeVar("T")
PACKAGE_DIR = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Return an MD5 over the source of every hwlib module."""
    digest = hashlib.md5()
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def _mnist_key(root: str) -> str:
    try:
        return data.mnist_checksum(Path(root))
    except data.DataError:
        return "no-mnist"


def _call(fn: Callable[..., T], kwargs: dict[str, Any], code: str, data_key: str) -> T:
    # code and data_key are only part of the cache key
    return fn(**kwargs)


@functools.lru_cache(maxsize=8)
def _memory(cache_dir: str) -> joblib.Memory:
    return joblib.Memory(cache_dir, verbose=0)


def cached_call(cache_dir: str | Path | None, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Return fn(**kwargs), from the cache in `cache_dir` when the same call ran before.

    The key is fn's qualified name, kwargs, code_version() and the MNIST MD5
    sums. With cache_dir None, fn simply runs.
    """
    if cache_dir is None:
        return fn(**kwargs)
    memory = _memory(str(cache_dir))
    cached = memory.cache(_call)
    args = (fn, kwargs, code_version(), _mnist_key(str(data.DEFAULT_DATA_ROOT)))
    if cached.check_call_in_cache(*args):
        log.debug("cache hit for %s %s", fn.__qualname__, kwargs)
    return cached(*args)
