"""Parameter validation: types, ranges, allowed names, unknown names, lists passed as strings."""

import pytest
import yaml

from hwlib.params import ParameterError, validate
from conftest import REPO_ROOT


@pytest.fixture
def part1_values():
    path = REPO_ROOT / "params" / "part1_deep_vs_shallow" / "quick.yaml"
    return yaml.safe_load(path.read_text())


def test_valid_profile_passes(part1_values):
    p = validate("part1", part1_values)
    assert p.sim_seeds == [0, 1, 2]


@pytest.mark.parametrize("name, value, expected", [
    ("dnn_epochs", -1, "dnn_epochs=-1: expected an integer >= 1"),
    ("dnn_lr", "abc", "dnn_lr='abc': expected a finite number > 0"),
    ("dnn_lr", float("inf"), "dnn_lr=inf: expected a finite number > 0"),
    ("dnn_lr", 0, "dnn_lr=0.0: expected a finite number > 0"),
    ("device", "tpu", "device='tpu': expected one of 'auto', 'cpu', 'cuda', 'mps'"),
    ("sim_seeds", "[1, 2]", "use -y \"sim_seeds: [1, 2]\""),
    ("cache", "yes", "expected True or False"),
    ("mnist_train_size", 10, "None (all samples) or an integer from 100 to 60000"),
    ("dnn_epochs", 2.5, "dnn_epochs=2.5"),
    ("dnn_epochs", True, "dnn_epochs=True"),
])
def test_invalid_value_is_named(part1_values, name, value, expected):
    part1_values[name] = value
    with pytest.raises(ParameterError) as error:
        validate("part1", part1_values)
    assert expected in str(error.value)


def test_high_learning_rate_passes(part1_values):
    # a rate too high gives a diverged, recorded run rather than a rejected parameter
    part1_values["sim_lr_f1"] = 1e3
    assert validate("part1", part1_values).sim_lr_f1 == 1e3


def test_unknown_name_is_rejected(part1_values):
    part1_values["learning_rat"] = 0.1
    with pytest.raises(ParameterError, match="unknown parameter.*learning_rat"):
        validate("part1", part1_values)


def test_missing_name_is_rejected(part1_values):
    del part1_values["cnn_lr"]
    with pytest.raises(ParameterError, match="missing parameter.*cnn_lr"):
        validate("part1", part1_values)


def test_modules_and_private_names_ignored(part1_values):
    import math

    validate("part1", {**part1_values, "math": math, "_hidden": 1, "In": [], "get_ipython": print})


def test_devices_match_train():
    from hwlib import params, train

    assert params.DEVICES == train.DEVICES


def test_validation_skips_torch():
    # a bad parameter then fails within a second of the kernel starting
    import subprocess
    import sys

    code = "import sys, hwlib.params; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
