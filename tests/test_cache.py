"""Tests for hwlib.cache: hits, misses on a changed argument or code, no entry on a crash."""

import importlib.util
import sys

import numpy as np
import pytest

from hwlib import cache, part1

CALLS: list[dict] = []


def counted_run(size: int, seed: int) -> dict:
    """Record the call and return plain data that depends on both arguments."""
    CALLS.append({"size": size, "seed": seed})
    return {"x": np.random.default_rng(seed).normal(size=size)}


def failing_run(size: int) -> dict:
    """Stand in for a run interrupted before it returns."""
    CALLS.append({"size": size})
    raise KeyboardInterrupt


@pytest.fixture(autouse=True)
def fresh_calls():
    CALLS.clear()
    yield
    cache.code_version.cache_clear()


def entries(cache_dir) -> list:
    return sorted(cache_dir.rglob("output.pkl"))


def test_cached_call_hit(tmp_path):
    first = cache.cached_call(tmp_path, counted_run, size=5, seed=1)
    second = cache.cached_call(tmp_path, counted_run, size=5, seed=1)

    assert len(CALLS) == 1
    np.testing.assert_array_equal(first["x"], second["x"])
    assert len(entries(tmp_path)) == 1


def test_cached_call_changed_argument(tmp_path):
    cache.cached_call(tmp_path, counted_run, size=5, seed=1)
    changed = cache.cached_call(tmp_path, counted_run, size=5, seed=2)
    cache.cached_call(tmp_path, counted_run, size=5, seed=1)

    assert CALLS == [{"size": 5, "seed": 1}, {"size": 5, "seed": 2}]
    np.testing.assert_array_equal(changed["x"], counted_run(5, 2)["x"])


def test_cached_call_changed_code(tmp_path, monkeypatch):
    cache.cached_call(tmp_path, counted_run, size=5, seed=1)
    monkeypatch.setattr(cache, "code_version", lambda fn: "edited")
    cache.cached_call(tmp_path, counted_run, size=5, seed=1)

    assert len(CALLS) == 2
    assert len(entries(tmp_path)) == 2


def test_cached_call_interrupted(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        cache.cached_call(tmp_path, failing_run, size=3)

    assert entries(tmp_path) == []
    with pytest.raises(KeyboardInterrupt):
        cache.cached_call(tmp_path, failing_run, size=3)
    assert len(CALLS) == 2


def test_cached_call_off(tmp_path):
    cache.cached_call(None, counted_run, size=5, seed=1)
    cache.cached_call(None, counted_run, size=5, seed=1)

    assert len(CALLS) == 2
    assert list(tmp_path.iterdir()) == []


def test_dependencies_part1():
    names = cache.dependencies("hwlib.part1")

    assert {"hwlib.part1", "hwlib.train", "hwlib.data", "hwlib.models"} <= set(names)
    assert "hwlib.plots" not in names
    assert "hwlib.notebook" not in names


def load_module(name: str, path, source: str):
    """Write `source` to `path` and import it as hwlib.<name>."""
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"hwlib.{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_run_dependencies_part1():
    _, modules = cache.run_dependencies(part1.train_mnist_run)

    assert modules == ["hwlib.data", "hwlib.models", "hwlib.train"]


RUN_SOURCE = """from hwlib.probe_dep import helper
SCALE = {scale}


def run():
    return _inner() * SCALE


def _inner():
    return helper()


def verdict():
    return "{verdict}"
"""


def probe_version(tmp_path, scale=1, verdict="best", helper_value=1) -> str:
    """Import a probe run module and its dependency as written; return the run's code version."""
    load_module("probe_dep", tmp_path / "dep.py", f"def helper():\n    return {helper_value}\n")
    run_module = load_module("probe_run", tmp_path / "run.py",
                             RUN_SOURCE.format(scale=scale, verdict=verdict))
    cache.code_version.cache_clear()
    return cache.code_version(run_module.run)


def test_code_version_scope(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    before = probe_version(tmp_path)

    assert probe_version(tmp_path, verdict="worst") == before
    assert probe_version(tmp_path, scale=2) != before
    assert probe_version(tmp_path, helper_value=2) != before
