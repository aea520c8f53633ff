"""Notebook parameters: declared names, types and ranges, and their validation.

Each notebook's `parameters` cell assigns exactly the names declared here for
it, and the YAML profiles under params/<notebook>/ set the same names. The
cell after the parameters calls `validate`, which rejects a wrong type, an
out-of-range value, an unknown name (papermill injects any `-p` name, typos
included) and a list passed with `-p` (papermill passes it as a string).
"""

import math
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# the devices hwlib.train.select_device accepts; kept here so that validation, the first
# cell after the parameters, fails in a second without importing torch
DEVICES = ("auto", "cpu", "cuda", "mps")
PROFILES = ("quick", "full", "custom")
# names IPython puts in a notebook's namespace
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


class ParameterError(ValueError):
    """A notebook parameter is missing, unknown or invalid."""


@dataclass(frozen=True)
class Param:
    """One declared parameter: a checker that returns the clean value or raises, and its meaning."""

    check: Callable[[str, Any], Any]
    help: str


def _fail(name: str, value: Any, expected: str) -> None:
    hint = ""
    if isinstance(value, str) and value.lstrip().startswith("["):
        hint = f"; papermill's -p passes lists as strings, so use -y \"{name}: {value}\""
    raise ParameterError(f"invalid parameter {name}={value!r}: expected {expected}{hint}")


def integer(low: int | None = None, high: int | None = None) -> Callable[[str, Any], int]:
    """Return a checker for an int in [low, high]."""
    expected = f"an integer{'' if low is None else f' >= {low}'}{'' if high is None else f' and <= {high}'}"

    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(name, value, expected)
        if (low is not None and value < low) or (high is not None and value > high):
            _fail(name, value, expected)
        return value
    return check


def optional_integer(low: int, high: int) -> Callable[[str, Any], int | None]:
    """Return a checker for None (meaning all) or an int in [low, high]."""
    inner = integer(low, high)

    def check(name: str, value: Any) -> int | None:
        if value is None:
            return None
        try:
            return inner(name, value)
        except ParameterError:
            _fail(name, value, f"None (all samples) or an integer from {low} to {high}")
    return check


def number(low: float | None = None, high: float | None = None,
           low_inclusive: bool = False) -> Callable[[str, Any], float]:
    """Return a checker for a real number above `low` (or at it when low_inclusive) and at most `high`."""
    bound = ">=" if low_inclusive else ">"
    expected = f"a finite number{'' if low is None else f' {bound} {low:g}'}{'' if high is None else f' and <= {high:g}'}"

    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(name, value, expected)
        value = float(value)
        too_low = low is not None and (value < low if low_inclusive else value <= low)
        if too_low or (high is not None and value > high) or not math.isfinite(value):
            _fail(name, value, expected)
        return value
    return check


def choice(*options: str) -> Callable[[str, Any], str]:
    """Return a checker for one of `options`."""
    def check(name: str, value: Any) -> str:
        if value not in options:
            _fail(name, value, f"one of {', '.join(repr(o) for o in options)}")
        return value
    return check


def boolean() -> Callable[[str, Any], bool]:
    """Return a checker for True or False."""
    def check(name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            _fail(name, value, "True or False")
        return value
    return check


def string() -> Callable[[str, Any], str]:
    """Return a checker for any string (paths)."""
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str):
            _fail(name, value, "a string")
        return value
    return check


def integer_list(low: int = 0, min_length: int = 1) -> Callable[[str, Any], list[int]]:
    """Return a checker for a list of at least `min_length` integers, each >= low."""
    expected = f"a list of at least {min_length} integer{'s' if min_length > 1 else ''}, each >= {low}"

    def check(name: str, value: Any) -> list[int]:
        if not isinstance(value, (list, tuple)) or len(value) < min_length:
            _fail(name, value, expected)
        if any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in value):
            _fail(name, value, expected)
        return list(value)
    return check


def number_list(low: float, min_length: int = 1) -> Callable[[str, Any], list[float]]:
    """Return a checker for a list of at least `min_length` numbers, each > low."""
    expected = f"a list of at least {min_length} number{'s' if min_length > 1 else ''}, each > {low:g}"

    def check(name: str, value: Any) -> list[float]:
        if not isinstance(value, (list, tuple)) or len(value) < min_length:
            _fail(name, value, expected)
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v <= low for v in value):
            _fail(name, value, expected)
        return [float(v) for v in value]
    return check


COMMON = {
    "profile": Param(choice(*PROFILES), "name of the settings profile, recorded in results"),
    "device": Param(choice(*DEVICES), "where to train: auto picks cuda, then mps, then cpu"),
    "results_dir": Param(string(), "folder for results files; empty means build/<profile>/results"),
    "cache": Param(boolean(), "reuse trained runs from build/<profile>/cache"),
}

# Learning rates have no upper bound: a rate too high for a model makes its training
# loss non-finite, and the experiment then records TrainingDiverged as a failure.
SCHEMAS: dict[str, dict[str, Param]] = {
    "part1": {
        **COMMON,
        "sim_epochs": Param(integer(1), "full-batch epochs for each simulated-function model"),
        "sim_lr_f1": Param(number(0), "Adam learning rate on f1"),
        "sim_lr_f2": Param(number(0), "Adam learning rate on f2"),
        "sim_weight_decay": Param(number(0, 1, low_inclusive=True), "Adam weight decay"),
        "sim_seeds": Param(integer_list(), "seeds; each model is trained once per seed"),
        "mnist_train_size": Param(optional_integer(100, 60_000), "training images (None: all 60,000)"),
        "mnist_test_size": Param(optional_integer(100, 10_000), "test images (None: all 10,000)"),
        "batch_size": Param(integer(1, 60_000), "minibatch size for MNIST"),
        "dnn_epochs": Param(integer(1), "epochs for the DNNs"),
        "dnn_lr": Param(number(0), "Adam learning rate for the DNNs"),
        "cnn_epochs": Param(integer(1), "epochs for the CNNs"),
        "cnn_lr": Param(number(0), "Adam learning rate for the CNNs"),
        "cnn_weight_decay": Param(number(0, 1, low_inclusive=True), "Adam weight decay for the CNNs"),
        "mnist_seed": Param(integer(0), "seed for the MNIST models and the subset"),
    },
    "part2": {
        **COMMON,
        "pca_seeds": Param(integer_list(min_length=2), "seeds of the pca-mlp runs, one run each"),
        "pca_epochs": Param(integer(1), "epochs for each pca-mlp run"),
        "pca_lr": Param(number(0), "Adam learning rate for pca-mlp"),
        "pca_batch_size": Param(integer(1, 60_000), "minibatch size for pca-mlp"),
        "pca_snapshot_every": Param(integer(1), "epochs between weight snapshots"),
        "pca_train_size": Param(optional_integer(100, 60_000), "training images (None: all 60,000)"),
        "pca_test_size": Param(optional_integer(100, 10_000), "test images (None: all 10,000)"),
        "gradnorm_seed": Param(integer(0), "seed for gradnorm-mlp, gradnorm-cnn and the subset"),
        "gradnorm_mlp_epochs": Param(integer(1), "full-batch epochs of gradnorm-mlp on f1"),
        "gradnorm_mlp_lr": Param(number(0), "Adam learning rate for gradnorm-mlp"),
        "gradnorm_cnn_epochs": Param(integer(1), "epochs of gradnorm-cnn on MNIST"),
        "gradnorm_cnn_lr": Param(number(0), "Adam learning rate for gradnorm-cnn"),
        "gradnorm_batch_size": Param(integer(1, 60_000), "minibatch size for gradnorm-cnn"),
        "gradnorm_train_size": Param(optional_integer(100, 60_000), "training images (None: all)"),
        "spike_factor": Param(number(1), "a spike is a value above this times the trailing median"),
        "spike_window": Param(integer(1), "steps in the trailing median window"),
        "ratio_runs": Param(integer(2), "sim-1 runs (seeds 0 .. ratio_runs - 1)"),
        "ratio_epochs": Param(integer(1), "Adam epochs on the MSE before the objective switch"),
        "ratio_lr": Param(number(0), "Adam learning rate on the MSE"),
        "ratio_grad_lr": Param(number(0), "Adam learning rate on ||grad MSE||^2"),
        "ratio_grad_tol": Param(number(0), "grad norm below which a run counts as converged"),
        "ratio_max_steps": Param(integer(1), "step limit of the ||grad MSE||^2 phase"),
        "eigenvalue_tol": Param(number(0), "eigenvalues above this count toward the minimal ratio"),
    },
    "part3": {
        **COMMON,
        "seed": Param(integer(0), "seed for every model, subset and the label permutation"),
        "random_train_size": Param(optional_integer(100, 60_000), "training images with permuted labels (None: all)"),
        "random_test_size": Param(optional_integer(100, 10_000), "test images, true labels (None: all)"),
        "random_epochs": Param(integer(1), "epochs on the permuted labels"),
        "random_lr": Param(number(0), "Adam learning rate for random-labels-mlp"),
        "random_batch_size": Param(integer(1, 60_000), "minibatch size for random-labels-mlp"),
        "memorized_acc": Param(number(0, 1), "train accuracy that counts as memorized"),
        "param_models": Param(integer_list(1), "which of param-cnn-01..13 to train, by number"),
        "param_train_size": Param(optional_integer(100, 60_000), "training images (None: all)"),
        "param_test_size": Param(optional_integer(100, 10_000), "test images (None: all)"),
        "param_epochs": Param(integer(1), "epochs for each param-cnn model"),
        "param_lr": Param(number(0), "Adam learning rate for the param-cnn models"),
        "param_batch_size": Param(integer(1, 60_000), "minibatch size for the param-cnn models"),
        "flat_train_size": Param(optional_integer(100, 60_000), "training images for flat-cnn (None: all)"),
        "flat_eval_size": Param(optional_integer(100, 10_000), "train and test images per θ(α) evaluation (None: all)"),
        "flat_epochs": Param(integer(1), "epochs for each flat-cnn model"),
        "flat_lr": Param(number(0), "learning rate of pair A and of θ1 in pair B"),
        "flat_high_lr": Param(number(0), "learning rate of θ2 in pair B"),
        "flat_batch_size": Param(integer(1, 60_000), "minibatch size of pair B"),
        "flat_small_batch": Param(integer(1, 60_000), "minibatch size of θ1 in pair A"),
        "flat_large_batch": Param(integer(1, 60_000), "minibatch size of θ2 in pair A"),
        "alpha_min": Param(number(-10, 0), "first α of the interpolation"),
        "alpha_max": Param(number(1, 10), "last α of the interpolation"),
        "alpha_step": Param(number(0, 0.05), "spacing of α; 1/step must be a whole number"),
        "sens_train_size": Param(optional_integer(100, 60_000), "training images for sensitivity-cnn (None: all)"),
        "sens_test_size": Param(optional_integer(100, 10_000), "test images for loss and sensitivity (None: all)"),
        "sens_epochs": Param(integer(1), "epochs per batch size in the fixed-epoch sweep"),
        "sens_lr": Param(number(0), "Adam learning rate for sensitivity-cnn"),
        "sens_batch_sizes": Param(integer_list(1, min_length=2), "batch sizes, small to large"),
        "equal_steps": Param(optional_integer(1, 10_000_000), "optimizer steps per batch size in a second sweep (None: skip it)"),
    },
}


def _user_names(namespace: dict[str, Any]) -> set[str]:
    return {
        name for name, value in namespace.items()
        if not name.startswith("_") and name not in _IPYTHON_NAMES
        and not isinstance(value, (types.ModuleType, types.FunctionType, type))
    }


def validate(notebook: str, namespace: dict[str, Any]) -> types.SimpleNamespace:
    """Check the parameters of `notebook` found in `namespace` and return them.

    Raises ParameterError naming the parameter, the value and what is allowed.
    """
    if notebook not in SCHEMAS:
        raise ParameterError(f"unknown notebook {notebook!r}; expected one of {', '.join(SCHEMAS)}")
    schema = SCHEMAS[notebook]

    unknown = sorted(_user_names(namespace) - set(schema))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(unknown)} for {notebook}; "
            f"declared parameters are: {', '.join(schema)}"
        )
    missing = [name for name in schema if name not in namespace]
    if missing:
        raise ParameterError(f"missing parameter(s) {', '.join(missing)} for {notebook}")

    return types.SimpleNamespace(**{name: p.check(name, namespace[name]) for name, p in schema.items()})


def describe(notebook: str) -> str:
    """Return one line per declared parameter of `notebook`: name and meaning."""
    return "\n".join(f"{name}: {p.help}" for name, p in SCHEMAS[notebook].items())
