"""Flatness measures: linear interpolation between two trained models, and input sensitivity.

`interpolate` mixes two state dicts as θ(α) = (1 − α)·θ1 + α·θ2 and
`interpolation_curve` evaluates every θ(α) as it is, through
torch.func.functional_call, so no model is copied or retrained. `sensitivity`
is the root mean square over an evaluation set of the Frobenius norm of
∂loss_i/∂x_i, the gradient of sample i's loss with respect to its own input.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from hwlib.data import Split
from hwlib.train import EVAL_BATCH_SIZE

State = Mapping[str, torch.Tensor]


def interpolate(state1: State, state2: State, alpha: float) -> dict[str, torch.Tensor]:
    """Return θ(α) = (1 − α)·θ1 + α·θ2 over every floating-point parameter and buffer.

    Integer buffers (such as batch-norm step counters) are taken from `state1`.
    Raises ValueError when the two states do not have the same names and shapes.
    """
    _check_same_layout(state1, state2)
    mixed = {}
    for name, first in state1.items():
        second = state2[name]
        if first.is_floating_point():
            mixed[name] = (1 - alpha) * first + alpha * second
        else:
            mixed[name] = first
    return mixed


def _check_same_layout(state1: State, state2: State) -> None:
    if set(state1) != set(state2):
        diff = sorted(set(state1) ^ set(state2))
        raise ValueError(f"cannot interpolate: the entries {diff} are missing from one state; "
                         "both models must have the same architecture")
    for name, tensor in state1.items():
        if tensor.shape != state2[name].shape:
            raise ValueError(
                f"cannot interpolate {name!r}: shape {tuple(tensor.shape)} vs "
                f"{tuple(state2[name].shape)}; both models must have the same architecture"
            )


def alpha_grid(alpha_min: float, alpha_max: float, step: float) -> np.ndarray:
    """Return α values from `alpha_min` to `alpha_max` in `step`s, including 0 and 1 exactly.

    Raises ValueError when the range misses 0 or 1 or when 1 / step is not a whole number.
    """
    if not alpha_min <= 0 < 1 <= alpha_max:
        raise ValueError(
            f"invalid α range [{alpha_min}, {alpha_max}]: it must contain 0 and 1, "
            "the two trained models"
        )
    if step <= 0 or abs(1 / step - round(1 / step)) > 1e-9:
        raise ValueError(f"invalid α step {step}: use 1/n for a whole n (0.05, 0.1, ...) "
                         "so that α = 0 and α = 1 are on the grid")
    per_unit = round(1 / step)
    first, last = int(np.ceil(alpha_min * per_unit - 1e-9)), int(np.floor(alpha_max * per_unit + 1e-9))
    # integers divided by per_unit give 0 and 1 exactly
    return np.arange(first, last + 1) / per_unit


@torch.no_grad()
def evaluate_state(model: nn.Module, state: State, split: Split,
                   batch_size: int = EVAL_BATCH_SIZE) -> dict[str, float]:
    """Return the mean cross-entropy and accuracy on `split` of `model` with weights `state`.

    The sums run in the same order as hwlib.train.evaluate, so a state equal to
    the model's own gives the same numbers bit for bit.
    """
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=split.y.device)
    correct = torch.zeros((), device=split.y.device)
    for start in range(0, len(split), batch_size):
        x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
        output = functional_call(model, dict(state), (x,))
        total_loss += F.cross_entropy(output, y, reduction="sum")
        correct += (output.argmax(dim=1) == y).sum()
    model.train(was_training)
    return {"loss": total_loss.item() / len(split), "acc": correct.item() / len(split)}


def interpolation_curve(model: nn.Module, state1: State, state2: State, alphas: Sequence[float],
                        splits: Mapping[str, Split],
                        batch_size: int = EVAL_BATCH_SIZE) -> dict[str, list[float]]:
    """Evaluate θ(α) on each named split for every α; return lists keyed alpha, <split>_loss, <split>_acc."""
    device = next(iter(splits.values())).y.device
    state1 = {k: v.to(device) for k, v in state1.items()}
    state2 = {k: v.to(device) for k, v in state2.items()}
    curve: dict[str, list[float]] = {"alpha": [float(a) for a in alphas]}
    for alpha in alphas:
        mixed = interpolate(state1, state2, float(alpha))
        for name, split in splits.items():
            metrics = evaluate_state(model, mixed, split, batch_size)
            curve.setdefault(f"{name}_loss", []).append(metrics["loss"])
            curve.setdefault(f"{name}_acc", []).append(metrics["acc"])
    return curve


def input_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return ∂loss_i/∂x_i for every sample i of the batch, in eval mode.

    The loss is summed over the batch, not averaged: in eval mode no sample's
    output depends on another's, so row i of d(sum)/dx is sample i's own gradient.
    """
    was_training = model.training
    model.eval()
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y, reduction="sum")
    (gradient,) = torch.autograd.grad(loss, x)
    model.train(was_training)
    return gradient


def sensitivity(model: nn.Module, split: Split, batch_size: int = 1000) -> float:
    """Return sqrt(mean over samples of ‖∂loss_i/∂x_i‖²_F) on `split`.

    The value does not depend on `batch_size`, which only sets the memory used.
    """
    total = torch.zeros((), dtype=torch.float64, device=split.y.device)
    for start in range(0, len(split), batch_size):
        x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
        gradient = input_gradients(model, x, y)
        total += gradient.flatten(1).pow(2).sum(dim=1).double().sum()
    return float(torch.sqrt(total / len(split)))
