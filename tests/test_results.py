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
