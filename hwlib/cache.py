"""Cache of trained runs, keyed by their arguments, their hwlib code and the MNIST files.

A run is a module-level function that takes plain arguments (names, numbers,
lists) and returns plain data (NumPy arrays, CPU tensors, dicts). `cached_call`
stores its return value with joblib.Memory. joblib 1.6 writes output.pkl to a
temporary name in the entry's folder and renames it (os.replace), and treats an
entry as present only when output.pkl exists, so an interrupted run leaves no
entry behind and the next call recomputes it.

The code part of the key covers only the code the run uses: the run function,
the helpers and constants of its module that it uses, and the other hwlib
modules it uses with everything they import. So editing a verdict in part1.py,
results.py, the plots or the Part 3 code does not retrain the Part 1 models,
and editing train.py retrains everything.
"""

import functools
import hashlib
import importlib
import inspect
import logging
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import joblib

from hwlib import data, results

log = logging.getLogger(__name__)

T = TypeVar("T")


def dependencies(module_name: str) -> list[str]:
    """Return `module_name` and every hwlib module it imports, directly or not, sorted.

    A module counts as imported when the module object, or a function or class
    defined in it, is a global of an importing module (`from hwlib import train`,
    `from hwlib.models import build_model`).
    """
    found: set[str] = set()
    pending = [module_name]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        pending.extend(_hwlib_imports(sys.modules.get(name) or importlib.import_module(name)))
    return sorted(found)


def _hwlib_imports(module: types.ModuleType) -> set[str]:
    names = set()
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith(f"{__package__}."):
            names.add(name)
    return names


def _code_names(code: types.CodeType) -> set[str]:
    """Return the global and attribute names that `code` and its nested functions use."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def run_dependencies(fn: Callable) -> tuple[list[str], list[str]]:
    """Return the source of `fn` and of its module's helpers it uses, and the hwlib modules it uses.

    Helpers are the functions, classes (with their methods) and constants of
    fn's own module that fn names, directly or through other helpers. Modules are the other hwlib
    modules that fn or a helper names, with everything they import.
    """
    sources, modules, seen = [], set(), set()
    pending: list[Any] = [fn]
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        is_code = inspect.isfunction(obj) or inspect.isclass(obj)
        sources.append(inspect.getsource(obj) if is_code else f"{obj!r}")
        if inspect.isclass(obj):
            # follow the methods, whose source is already part of the class's
            pending.extend(v for v in vars(obj).values() if inspect.isfunction(v))
        if not inspect.isfunction(obj):
            continue
        for name in sorted(_code_names(obj.__code__)):
            value = obj.__globals__.get(name)
            if isinstance(value, types.ModuleType):
                owner = value.__name__
            else:
                owner = getattr(value, "__module__", None)
            if owner == fn.__module__ and not isinstance(value, types.ModuleType):
                pending.append(value)
            elif isinstance(owner, str) and owner.startswith(f"{__package__}."):
                modules.update(dependencies(owner))
            elif name in obj.__globals__ and isinstance(value, (int, float, str, tuple, dict)):
                pending.append(value)  # a constant of fn's module
    return sources, sorted(modules - {fn.__module__})


@functools.lru_cache(maxsize=64)
def code_version(fn: Callable) -> str:
    """Return an MD5 over the code a run depends on (see `run_dependencies`)."""
    sources, modules = run_dependencies(fn)
    digest = hashlib.md5()
    for source in sources:
        digest.update(source.encode())
    for name in modules:
        digest.update(name.encode())
        digest.update(Path(sys.modules[name].__file__).read_bytes())
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


def cache_dir(p: types.SimpleNamespace) -> str | None:
    """Return the run cache folder for validated notebook parameters `p`, or None when caching is off."""
    return str(results.build_dir(p.profile) / "cache") if p.cache else None


def cached_call(cache_dir: str | Path | None, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Return fn(**kwargs), from the cache in `cache_dir` when the same call ran before.

    The key is fn's qualified name, kwargs, code_version(fn) and the MNIST MD5
    sums. With cache_dir None, fn simply runs.
    """
    if cache_dir is None:
        return fn(**kwargs)
    memory = _memory(str(cache_dir))
    cached = memory.cache(_call)
    args = (fn, kwargs, code_version(fn), _mnist_key(str(data.DEFAULT_DATA_ROOT)))
    if cached.check_call_in_cache(*args):
        log.debug("cache hit for %s %s", fn.__qualname__, kwargs)
    return cached(*args)
