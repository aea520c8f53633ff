"""Results files: atomic writes, JSON conversion, and failed experiments."""

import json

import numpy as np
import pytest
import torch

from hwlib import results


def test_to_jsonable_converts_arrays():
    payload = {"a": np.arange(3), "b": torch.tensor([1.5]), "c": np.float32(2.0), "d": float("nan")}
    assert results.to_jsonable(payload) == {"a": [0, 1, 2], "b": [1.5], "c": 2.0, "d": None}


def test_write_json_atomic_leaves_no_temp(tmp_path):
    path = tmp_path / "out" / "x.json"
    results.write_json_atomic(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_experiment_records_ok(tmp_path):
    with results.experiment("sim-fit", "custom", {"epochs": 1}, [0], "cpu", tmp_path) as exp:
        exp.summary["value"] = 3
    saved = json.loads((tmp_path / "sim-fit.json").read_text())
    assert saved["status"] == "ok"
    assert saved["summary"] == {"value": 3}
    assert set(results.REQUIRED_FIELDS) <= set(saved)


def test_experiment_records_failure(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with results.experiment("sim-fit", "custom", {}, [0], "cpu", tmp_path):
            raise RuntimeError("boom")
    saved = json.loads((tmp_path / "sim-fit.json").read_text())
    assert saved["status"] == "failed"
    assert saved["error"] == "RuntimeError: boom"


def test_unknown_experiment_id(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment id 'sim'"):
        results.results_path("sim", "quick", tmp_path)


def test_load_missing_results_names_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="make report PROFILE=quick"):
        results.load_results("sim-fit", "quick", tmp_path)


def test_experiment_records_divergence_and_continues(tmp_path):
    from hwlib.train import TrainingDiverged

    with results.experiment("sim-fit", "custom", {}, [0], "cpu", tmp_path) as exp:
        raise TrainingDiverged("sim-1: training loss became nan at epoch 3")
    assert exp.status == "failed"
    saved = json.loads((tmp_path / "sim-fit.json").read_text())
    assert saved["error"] == "TrainingDiverged: sim-1: training loss became nan at epoch 3"


def test_interrupted_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    results.write_json_atomic(path, {"x": 1})

    def fsync_interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(results.os, "fsync", fsync_interrupted)
    with pytest.raises(KeyboardInterrupt):
        results.write_json_atomic(path, {"x": 2})
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_build_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv(results.BUILD_DIR_ENV, str(tmp_path))
    path = results.results_path("sim-fit", "quick")
    assert path == tmp_path / "quick" / "results" / "sim-fit.json"
    monkeypatch.delenv(results.BUILD_DIR_ENV)
    assert results.build_dir("quick") == results.REPO_ROOT / "build" / "quick"


def test_failure_message():
    assert results.failure({"id": "grad-norm", "status": "ok"}) is None
    failed = {"id": "grad-norm", "status": "failed", "error": "TrainingDiverged: x"}
    assert results.failure(failed) == "grad-norm failed: TrainingDiverged: x"


def test_unless_failed_replaces_call():
    calls = []

    @results.unless_failed
    def verdict(res):
        calls.append(res)
        return "fine"

    @results.unless_failed(fallback=results.failure_rows)
    def rows(res):
        return [{"a": 1}]

    failed = {"id": "sensitivity", "status": "failed", "error": "E"}
    assert verdict({"status": "ok"}) == "fine"
    assert verdict(failed) == "sensitivity failed: E"
    assert len(calls) == 1
    assert rows(failed) == [{"status": "sensitivity failed: E"}]
    assert rows({"status": "ok"}) == [{"a": 1}]


def test_interrupt_keeps_last_results(tmp_path):
    with results.experiment("sim-fit", "custom", {}, [0], "cpu", tmp_path) as exp:
        exp.summary["value"] = 1
    with pytest.raises(KeyboardInterrupt):
        with results.experiment("sim-fit", "custom", {}, [0], "cpu", tmp_path):
            raise KeyboardInterrupt
    saved = json.loads((tmp_path / "sim-fit.json").read_text())
    assert saved["status"] == "ok"
    assert saved["summary"] == {"value": 1}


def test_build_root_follows_env(tmp_path, monkeypatch):
    from hwlib import report

    monkeypatch.setenv(results.BUILD_DIR_ENV, str(tmp_path))
    with results.experiment("sim-fit", "custom", {}, [0], "cpu") as exp:
        exp.summary["headline"] = results.headline("q", "r", None, "reproduced")
    assert (tmp_path / "custom" / "results" / "sim-fit.json").is_file()
    assert list(report.load_all_results()) == ["custom"]
