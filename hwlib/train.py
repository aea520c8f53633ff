"""Training loop, evaluation, device choice and seeding.

`fit` trains one model on tensors that already sit on the run's device, with
Adam, and returns a per-epoch history. Callbacks see every optimizer step
after the backward pass (for the gradient norm) and every epoch end (for
weight snapshots). Loss values stay on the device until the epoch ends, so a
step never waits on a `.item()` call.
"""

import logging
import math
import os
import random
import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwlib.data import Split

log = logging.getLogger(__name__)

Task = Literal["classification", "regression"]
DEVICES = ("auto", "cpu", "cuda", "mps")
EVAL_BATCH_SIZE = 4096


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


def select_device(device: str = "auto") -> torch.device:
    """Return the requested device; "auto" picks cuda, then mps, then cpu."""
    if device not in DEVICES:
        raise ValueError(f"invalid device {device!r}; expected one of {', '.join(DEVICES)}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but torch.cuda.is_available() is False; use 'auto' or 'cpu'")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was requested but is not available; use 'auto' or 'cpu'")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def loss_function(task: Task):
    """Return cross-entropy on logits for classification, MSE for regression."""
    if task == "classification":
        return F.cross_entropy
    if task == "regression":
        return F.mse_loss
    raise ValueError(f"invalid task {task!r}; expected 'classification' or 'regression'")


def make_optimizer(params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Return Adam with the fused kernel where this torch build offers it."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


@torch.inference_mode()
def evaluate(model: nn.Module, split: Split, task: Task = "classification",
             batch_size: int = EVAL_BATCH_SIZE) -> dict[str, float]:
    """Return the mean loss (and accuracy for classification) of `model` on `split`.

    The model is in eval mode here, so dropout is off.
    """
    was_training = model.training
    model.eval()
    loss_fn = loss_function(task)
    total_loss = torch.zeros((), device=split.y.device)
    correct = torch.zeros((), device=split.y.device)
    for start in range(0, len(split), batch_size):
        x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
        output = model(x)
        total_loss += loss_fn(output, y, reduction="sum")
        if task == "classification":
            correct += (output.argmax(dim=1) == y).sum()
    model.train(was_training)

    n = len(split) * (1 if task == "classification" else split.y[0].numel())
    metrics = {"loss": total_loss.item() / n}
    if task == "classification":
        metrics["acc"] = correct.item() / len(split)
    return metrics


class Callback:
    """Hooks into `fit`; override the ones you need."""

    def on_train_begin(self, model: nn.Module) -> None:
        pass

    def after_backward(self, step: int, model: nn.Module, loss: torch.Tensor) -> None:
        """Called after loss.backward() and before optimizer.step(); gradients are set."""

    def on_epoch_end(self, epoch: int, model: nn.Module, metrics: dict[str, float]) -> None:
        pass


# progress lines logged per run; notebook.setup lowers it for rendered reports
PROGRESS_LINES = 10


def log_interval(epochs: int) -> int:
    """Return the epoch interval that gives about PROGRESS_LINES progress lines per run."""
    return max(1, math.ceil(epochs / PROGRESS_LINES))


def _format_progress(name: str, epoch: int, epochs: int, metrics: dict, seconds: float) -> str:
    parts = [f"{name} epoch {epoch}/{epochs}"]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        if key in metrics:
            value = metrics[key]
            parts.append(f"{key.replace('_', ' ')} {value:.2%}" if key.endswith("acc") else
                         f"{key.replace('_', ' ')} {value:.4g}")
    parts.append(f"{seconds:.1f}s")
    return "  ".join(parts)


def _batches(train: Split, batch_size: int, generator: torch.Generator):
    """Yield (x, y) batches of one epoch in a shuffled order; full batch is not shuffled."""
    n = len(train)
    if batch_size >= n:
        # the mean loss of the whole set does not depend on the order
        yield train.x, train.y
        return
    order = torch.randperm(n, generator=generator).to(train.y.device)
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        yield train.x[index], train.y[index]


def _train_epoch(model, optimizer, loss_fn, train: Split, batch_size: int,
                 generator: torch.Generator, callbacks, step: int,
                 running: torch.Tensor | None) -> int:
    """Run one pass over `train` in shuffled batches; return the step count.

    When `running` is a tensor, the summed loss of the epoch is added to it on
    the device, so no step waits on a `.item()` call.
    """
    for x, y in _batches(train, batch_size, generator):
        loss = loss_fn(model(x), y)

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for callback in callbacks:
            callback.after_backward(step, model, loss)
        optimizer.step()

        if running is not None:
            running += loss.detach() * len(y)
        step += 1
    return step


def fit(model: nn.Module, train: Split, test: Split | None = None, *, epochs: int,
        lr: float, batch_size: int | None = None, weight_decay: float = 0.0,
        task: Task = "classification", seed: int = 0, callbacks: Sequence[Callback] = (),
        name: str = "model", eval_every: int = 1, log_every: int | None = None) -> dict[str, list]:
    """Train `model` with Adam and return its per-epoch history.

    batch_size None means full batch. For classification, every `eval_every`
    epochs (and at the last) the model is evaluated in eval mode on the whole
    train and test splits. For regression, `train_loss` is recorded every epoch
    as the mean loss of that epoch's steps. Raises TrainingDiverged when the
    loss is not finite.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = make_optimizer(model.parameters(), lr, weight_decay)
    loss_fn = loss_function(task)
    batch_size = batch_size or len(train)
    log_every = log_every or log_interval(epochs)
    epoch_losses = torch.zeros(epochs, device=train.y.device)
    history: dict[str, list] = {"epoch": []}

    model.train()
    for callback in callbacks:
        callback.on_train_begin(model)
    step, started = 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        # the per-step loss is kept only for regression: classification evaluates instead
        running = epoch_losses[epoch - 1] if task == "regression" else None
        step = _train_epoch(model, optimizer, loss_fn, train, batch_size, generator, callbacks,
                            step, running)
        if running is not None:
            running /= len(train)

        is_last = epoch == epochs
        metrics = {}
        if task == "classification" and (epoch % eval_every == 0 or is_last):
            metrics = _evaluate_splits(model, train, test, task)
            _check_finite(metrics["train_loss"], name, epoch, lr)
            _append(history, epoch, metrics)
        for callback in callbacks:
            callback.on_epoch_end(epoch, model, metrics)

        if epoch % log_every == 0 or is_last:
            if task == "regression":
                _check_finite(epoch_losses[:epoch].sum().item(), name, epoch, lr)
                metrics = {"train_loss": epoch_losses[epoch - 1].item()}
            log.info(_format_progress(name, epoch, epochs, metrics, time.perf_counter() - started))

    if task == "regression":
        history["epoch"] = list(range(1, epochs + 1))
        history["train_loss"] = epoch_losses.tolist()
    history["wall_time_s"] = time.perf_counter() - started
    history["steps"] = step
    return history


def _append(history: dict[str, list], epoch: int, metrics: dict[str, float]) -> None:
    history["epoch"].append(epoch)
    for key, value in metrics.items():
        history.setdefault(key, []).append(value)


def _evaluate_splits(model, train: Split, test: Split | None, task: Task) -> dict[str, float]:
    metrics = {f"train_{k}": v for k, v in evaluate(model, train, task).items()}
    if test is not None:
        metrics.update({f"test_{k}": v for k, v in evaluate(model, test, task).items()})
    return metrics


def _check_finite(loss: float, name: str, epoch: int, lr: float) -> None:
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"{name}: training loss became {loss} at epoch {epoch}; the learning rate "
            f"{lr:g} is likely too high for this model, so lower it and rerun"
        )
