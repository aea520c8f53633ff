"""Runs of one MLP that differ only in seed, trained together as one batched model.

Member e's weights sit at index e of stacked tensors ([E, out, in] and [E, out])
and every layer is one batched matrix product (torch.baddbmm), so E small runs
cost about as much as one run of E times the width. Member e starts from the
initialization of `build_model(name)` after `seed_everything(seeds[e])` and, in
minibatch training, draws its own batch order from a generator seeded like
`train.fit`'s, so it follows the same trajectory as that seed trained alone, up
to floating-point rounding (a batched product sums in another order), which
chaotic runs of thousands of steps can amplify.

One Adam over the stacked tensors with loss = sum of member losses gives each
member its own exact Adam step: the gradient of the sum with respect to member
e's slice is the gradient of member e's loss, and Adam (with its weight decay)
acts elementwise, so no member's moments or step depend on another member.
"""

import logging
import time
from collections.abc import Callable, Collection, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwlib import train
from hwlib.data import Split
from hwlib.models import build_model

log = logging.getLogger(__name__)

SnapshotHook = Callable[[int, "MLPEnsemble"], None]


def _seeded_model(model_name: str, seed: int) -> nn.Sequential:
    train.seed_everything(seed)
    return build_model(model_name)


def _linear_layers(model: nn.Module, model_name: str) -> tuple[bool, list[nn.Linear]]:
    """Return (starts with Flatten, Linear layers) of a Linear/ReLU MLP; raise for other models."""
    modules = list(model.children())
    flatten = bool(modules) and isinstance(modules[0], nn.Flatten)
    body = modules[1:] if flatten else modules
    expected = [nn.Linear if i % 2 == 0 else nn.ReLU for i in range(len(body))]
    if not body or [type(m) for m in body] != expected:
        kinds = ", ".join(type(m).__name__ for m in modules)
        raise ValueError(
            f"model {model_name!r} ({kinds}) is not an MLP of alternating Linear and ReLU "
            "layers; train it with train.fit instead of an ensemble"
        )
    return flatten, [m for m in body if isinstance(m, nn.Linear)]


class MLPEnsemble(nn.Module):
    """E seeds of one MLP, stacked; `forward` returns outputs of shape [E, batch, out]."""

    def __init__(self, model_name: str, seeds: Sequence[int]):
        super().__init__()
        if len(seeds) == 0 or len(set(seeds)) != len(seeds):
            raise ValueError(f"an ensemble needs distinct seeds, got {list(seeds)}")
        self.model_name = model_name
        self.seeds = [int(s) for s in seeds]

        members = [_linear_layers(_seeded_model(model_name, s), model_name) for s in self.seeds]
        self.flatten = members[0][0]
        n_layers = len(members[0][1])
        self.weights = nn.ParameterList(
            torch.stack([layers[i].weight.detach() for _, layers in members]) for i in range(n_layers))
        self.biases = nn.ParameterList(
            torch.stack([layers[i].bias.detach() for _, layers in members]) for i in range(n_layers))

    def __len__(self) -> int:
        return len(self.seeds)

    def forward(self, x: torch.Tensor, per_member: bool = False) -> torch.Tensor:
        """Apply every member to `x`: one input [B, ...] for all, or [E, B, ...] when per_member."""
        lead = 2 if per_member else 1
        h = x.flatten(lead) if self.flatten else x
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            if h.dim() == 2:
                h = _shared_linear(h, weight, bias)
            else:
                h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            if i < len(self.weights) - 1:
                h = torch.relu(h)
        return h

    def member(self, e: int) -> nn.Module:
        """Return member e as a plain nn.Module (a copy) of the ensemble's model name."""
        model = build_model(self.model_name).to(self.weights[0].device)
        _, layers = _linear_layers(model, self.model_name)
        with torch.no_grad():
            for layer, weight, bias in zip(layers, self.weights, self.biases):
                layer.weight.copy_(weight[e])
                layer.bias.copy_(bias[e])
        return model

    def member_vectors(self, n_layers: int | None = None) -> torch.Tensor:
        """Return [E, P]: each member's parameters flattened in nn.Module order.

        With n_layers, only the first n_layers Linear layers (weight, then bias) are used.
        """
        pairs = list(zip(self.weights, self.biases))[:n_layers]
        parts = [t.detach().flatten(1) for pair in pairs for t in pair]
        return torch.cat(parts, dim=1)


def _shared_linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    # one input for all members: a single [B, in] x [in, E*out] product
    n_members, n_out, _ = weight.shape
    out = h @ weight.flatten(0, 1).T
    return out.view(len(h), n_members, n_out).transpose(0, 1) + bias.unsqueeze(1)


def build_ensemble(model_name: str, seeds: Sequence[int],
                   device: torch.device | str = "cpu") -> MLPEnsemble:
    """Build the ensemble of `model_name` with one member per seed, on `device`."""
    return MLPEnsemble(model_name, seeds).to(device)


def _check_finite(ensemble: MLPEnsemble, losses: torch.Tensor, first_epoch: int, name: str,
                  lr: float) -> None:
    """Raise TrainingDiverged for the first non-finite entry of `losses` [epochs, E]."""
    bad = ~torch.isfinite(losses)
    if not bad.any():
        return
    row, e = (int(i) for i in bad.nonzero()[0])
    raise train.TrainingDiverged(
        f"{name}: member with seed {ensemble.seeds[e]} has training loss "
        f"{losses[row, e].item()} at epoch {first_epoch + row}; the learning rate {lr:g} "
        "is likely too high for this model, so lower it and rerun"
    )


def _snapshot(hook: SnapshotHook | None, epochs: Collection[int], epoch: int,
              ensemble: MLPEnsemble) -> None:
    if hook is not None and epoch in epochs:
        hook(epoch, ensemble)


def fit_regression(ensemble: MLPEnsemble, split: Split, *, epochs: int, lr: float,
                   weight_decay: float = 0.0, snapshot_epochs: Collection[int] = (),
                   on_snapshot: SnapshotHook | None = None, name: str = "ensemble",
                   log_every: int | None = None) -> dict[str, np.ndarray]:
    """Train every member full batch on MSE with Adam; return train_loss of shape [E, epochs].

    train_loss[e, k] is member e's loss at step k+1, before that step's update, as in
    `train.fit`. `on_snapshot(epoch, ensemble)` runs at each epoch in `snapshot_epochs`
    (epoch 0 is the initialization).
    """
    optimizer = train.make_optimizer(ensemble.parameters(), lr, weight_decay)
    log_every = log_every or train.log_interval(epochs)
    losses = torch.zeros(epochs, len(ensemble), device=split.y.device)
    checked, started = 0, time.perf_counter()

    _snapshot(on_snapshot, snapshot_epochs, 0, ensemble)
    for epoch in range(1, epochs + 1):
        member_loss = (ensemble(split.x) - split.y).pow(2).flatten(1).mean(dim=1)
        optimizer.zero_grad(set_to_none=True)
        member_loss.sum().backward()
        optimizer.step()
        losses[epoch - 1] = member_loss.detach()

        if epoch % log_every == 0 or epoch == epochs:
            _check_finite(ensemble, losses[checked:epoch], checked + 1, name, lr)
            checked = epoch
            best = losses[epoch - 1].min().item()
            log.info(f"{name} epoch {epoch}/{epochs}  best member train loss {best:.4g}  "
                     f"{time.perf_counter() - started:.1f}s")
        _snapshot(on_snapshot, snapshot_epochs, epoch, ensemble)
    return {"epoch": np.arange(1, epochs + 1), "train_loss": losses.T.cpu().numpy(),
            "wall_time_s": time.perf_counter() - started}


@torch.no_grad()
def evaluate(ensemble: MLPEnsemble, split: Split,
             batch_size: int = train.EVAL_BATCH_SIZE) -> dict[str, torch.Tensor]:
    """Return each member's mean cross-entropy ("loss") and accuracy ("acc") on `split`, shape [E]."""
    total_loss = torch.zeros(len(ensemble), device=split.y.device)
    correct = torch.zeros(len(ensemble), device=split.y.device)
    for start in range(0, len(split), batch_size):
        x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
        logits = ensemble(x)
        targets = y.expand(len(ensemble), -1)
        total_loss += F.cross_entropy(logits.transpose(1, 2), targets, reduction="none").sum(dim=1)
        correct += (logits.argmax(dim=2) == targets).sum(dim=1)
    return {"loss": total_loss / len(split), "acc": correct / len(split)}


def _train_epoch(ensemble: MLPEnsemble, optimizer, split: Split, batch_size: int,
                 generators: list[torch.Generator]) -> None:
    # member e's batch order comes from its own generator, as in train.fit
    n = len(split)
    orders = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(split.y.device)
    for start in range(0, n, batch_size):
        index = orders[:, start:start + batch_size]
        logits = ensemble(split.x[index], per_member=True)
        member_loss = F.cross_entropy(logits.transpose(1, 2), split.y[index], reduction="none").mean(dim=1)

        optimizer.zero_grad(set_to_none=True)
        member_loss.sum().backward()
        optimizer.step()


def fit_classification(ensemble: MLPEnsemble, train_split: Split, test_split: Split | None = None,
                       *, epochs: int, lr: float, batch_size: int, weight_decay: float = 0.0,
                       eval_every: int = 1, snapshot_epochs: Collection[int] = (),
                       on_snapshot: SnapshotHook | None = None,
                       name: str = "ensemble") -> dict[str, np.ndarray]:
    """Train every member on minibatches with Adam and cross-entropy; return per-member history.

    Every `eval_every` epochs (and at the last) each member is evaluated on the whole
    train and test splits; history["train_loss"] etc. have shape [E, evaluations].
    """
    optimizer = train.make_optimizer(ensemble.parameters(), lr, weight_decay)
    generators = [torch.Generator().manual_seed(s) for s in ensemble.seeds]
    history: dict[str, list] = {"epoch": []}
    started = time.perf_counter()

    _snapshot(on_snapshot, snapshot_epochs, 0, ensemble)
    for epoch in range(1, epochs + 1):
        _train_epoch(ensemble, optimizer, train_split, batch_size, generators)
        if epoch % eval_every == 0 or epoch == epochs:
            metrics = _evaluate_splits(ensemble, train_split, test_split)
            _check_finite(ensemble, metrics["train_loss"].unsqueeze(0), epoch, name, lr)
            _append(history, epoch, metrics)
            log.info(_progress(name, epoch, epochs, metrics, time.perf_counter() - started))
        _snapshot(on_snapshot, snapshot_epochs, epoch, ensemble)

    out = {key: np.stack(values, axis=1) for key, values in history.items() if key != "epoch"}
    return {"epoch": np.asarray(history["epoch"]), **out,
            "wall_time_s": time.perf_counter() - started}


def _evaluate_splits(ensemble: MLPEnsemble, train_split: Split,
                     test_split: Split | None) -> dict[str, torch.Tensor]:
    metrics = {f"train_{k}": v for k, v in evaluate(ensemble, train_split).items()}
    if test_split is not None:
        metrics.update({f"test_{k}": v for k, v in evaluate(ensemble, test_split).items()})
    return metrics


def _append(history: dict[str, list], epoch: int, metrics: dict[str, torch.Tensor]) -> None:
    history["epoch"].append(epoch)
    for key, value in metrics.items():
        history.setdefault(key, []).append(value.cpu().numpy())


def _progress(name: str, epoch: int, epochs: int, metrics: dict[str, torch.Tensor],
              seconds: float) -> str:
    parts = [f"{name} epoch {epoch}/{epochs}", f"mean train loss {metrics['train_loss'].mean():.4g}"]
    if "test_acc" in metrics:
        parts.append(f"mean test acc {metrics['test_acc'].mean():.2%}")
    parts.append(f"{seconds:.1f}s")
    return "  ".join(parts)
