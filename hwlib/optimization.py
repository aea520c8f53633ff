"""Tools of Part 2: gradient norm, weight snapshots and their PCA, Hessian and minimal ratio.

grad_norm = sqrt(sum over parameters of ||dL/dtheta||^2). The Hessian is that of
the loss with respect to all parameters flattened into one vector, computed with
torch.func.hessian over torch.func.functional_call, and minimal_ratio is the
fraction of its eigenvalues above a tolerance.
"""

import logging
import warnings
from collections.abc import Callable, Iterable

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import nn
from torch.func import functional_call, hessian

from hwlib import train
from hwlib.data import Split
from hwlib.ensemble import MLPEnsemble

log = logging.getLogger(__name__)


# gradient norm
def grad_norm(parameters: Iterable[torch.Tensor]) -> torch.Tensor:
    """Return sqrt(sum of squared gradient entries) over `parameters` as a 0-d tensor."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        raise ValueError("no parameter has a gradient; call loss.backward() before grad_norm")
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class GradNormRecorder(train.Callback):
    """Record grad_norm and the loss at every optimizer step, kept on the device until read."""

    def __init__(self):
        self._grad_norm: list[torch.Tensor] = []
        self._loss: list[torch.Tensor] = []

    def on_train_begin(self, model: nn.Module) -> None:
        self._grad_norm, self._loss = [], []

    def after_backward(self, step: int, model: nn.Module, loss: torch.Tensor) -> None:
        self._grad_norm.append(grad_norm(model.parameters()))
        self._loss.append(loss.detach())

    def values(self) -> dict[str, np.ndarray]:
        """Return {"grad_norm", "loss"} as arrays with one entry per step."""
        return {"grad_norm": torch.stack(self._grad_norm).cpu().numpy(),
                "loss": torch.stack(self._loss).cpu().numpy()}


def find_spikes(values: np.ndarray, factor: float, window: int) -> list[int]:
    """Return the steps where `values` exceeds `factor` times the median of the previous `window`.

    Consecutive steps above the threshold count as one spike, reported at its first step.
    """
    values = np.asarray(values, dtype=float)
    if len(values) <= window:
        return []
    trailing = np.lib.stride_tricks.sliding_window_view(values[:-1], window)
    median = np.median(trailing, axis=1)
    above = values[window:] > factor * median
    starts = above & ~np.concatenate([[False], above[:-1]])
    return (np.flatnonzero(starts) + window).tolist()


# weight snapshots and PCA
def snapshot_epochs(epochs: int, every: int) -> list[int]:
    """Return the snapshot epochs: 0 (the initialization), every `every` epochs, and the last."""
    if every < 1:
        raise ValueError(f"invalid snapshot interval {every}; expected an integer >= 1")
    return sorted(set(range(0, epochs + 1, every)) | {epochs})


def pca_paths(snapshots: np.ndarray, n_components: int = 2) -> dict[str, np.ndarray]:
    """Fit one PCA on all snapshots [runs, steps, P] and return their coordinates [runs, steps, 2].

    Also returns explained_variance_ratio, one value per component.
    """
    if snapshots.ndim != 3:
        raise ValueError(f"expected snapshots of shape [runs, steps, P], got {snapshots.shape}")
    n_runs, n_steps, n_params = snapshots.shape
    pca = PCA(n_components=n_components, svd_solver="full")
    coords = pca.fit_transform(snapshots.reshape(n_runs * n_steps, n_params))
    return {"coords": coords.reshape(n_runs, n_steps, n_components),
            "explained_variance_ratio": pca.explained_variance_ratio_}


# hessian and minimal ratio
def flat_loss(model: nn.Module, loss_fn: Callable, x: torch.Tensor,
              y: torch.Tensor) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """Return (loss as a function of one flat parameter vector, the model's current vector)."""
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]
    theta = torch.cat([p.detach().flatten() for p in model.parameters()])

    def loss(flat: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(flat, sizes)
        params = {n: piece.view(s) for n, piece, s in zip(names, pieces, shapes)}
        return loss_fn(functional_call(model, params, (x,)), y)
    return loss, theta


def loss_hessian(model: nn.Module, loss_fn: Callable, x: torch.Tensor,
                 y: torch.Tensor) -> torch.Tensor:
    """Return the [P, P] Hessian of loss_fn(model(x), y) with respect to all parameters."""
    loss, theta = flat_loss(model, loss_fn, x, y)
    with warnings.catch_warnings():
        # torch 2.14's torch.func.hessian calls the deprecated torch.jit.script internally
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
        return hessian(loss)(theta)


def hessian_eigenvalues(hessian_matrix: torch.Tensor) -> np.ndarray:
    """Return the eigenvalues of a symmetric matrix in ascending order (float64)."""
    symmetric = (hessian_matrix + hessian_matrix.T) / 2  # remove rounding asymmetry
    return torch.linalg.eigvalsh(symmetric.double()).cpu().numpy()


def minimal_ratio(eigenvalues: np.ndarray, tol: float) -> float:
    """Return the fraction of eigenvalues greater than `tol` (an absolute tolerance >= 0)."""
    if tol < 0:
        raise ValueError(f"invalid eigenvalue tolerance {tol}; expected a number >= 0")
    eigenvalues = np.asarray(eigenvalues)
    return float(np.mean(eigenvalues > tol))


# minimizing the gradient norm (phase 2 of minimal-ratio)
def _member_grad_norm_sq(ensemble: MLPEnsemble, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """Return each member's MSE [E] and ||grad of its MSE||^2 [E], differentiable."""
    member_loss = (ensemble(split.x) - split.y).pow(2).flatten(1).mean(dim=1)
    params = list(ensemble.parameters())
    # member e's loss depends only on slice e, so slice e of d(sum)/dtheta is its gradient
    grads = torch.autograd.grad(member_loss.sum(), params, create_graph=True)
    norm_sq = sum(g.pow(2).flatten(1).sum(dim=1) for g in grads)
    return member_loss, norm_sq


def minimize_grad_norm(ensemble: MLPEnsemble, split: Split, *, lr: float, tol: float,
                       max_steps: int, check_every: int = 50) -> dict[str, np.ndarray]:
    """Minimize each member's ||grad MSE||^2 with Adam until its grad_norm < tol or max_steps.

    A member keeps the parameters of the first step at which its grad_norm fell below
    `tol`; the others end at max_steps. Returns per member: converged (bool), steps,
    grad_norm and train_loss at the kept parameters.
    """
    optimizer = train.make_optimizer(ensemble.parameters(), lr)
    n = len(ensemble)
    done = torch.zeros(n, dtype=torch.bool, device=split.y.device)
    steps = torch.full((n,), max_steps, device=split.y.device)
    kept = [p.detach().clone() for p in ensemble.parameters()]

    for step in range(max_steps):
        member_loss, norm_sq = _member_grad_norm_sq(ensemble, split)
        newly = (norm_sq.detach().sqrt() < tol) & ~done
        _keep(kept, ensemble, newly)
        steps = torch.where(newly, step, steps)
        done |= newly
        if step % check_every == 0 and bool(done.all()):
            break
        optimizer.zero_grad(set_to_none=True)
        norm_sq.sum().backward()
        optimizer.step()

    _keep(kept, ensemble, ~done)  # members that never converged keep their last state
    with torch.no_grad():
        for p, k in zip(ensemble.parameters(), kept):
            p.copy_(k)
    member_loss, norm_sq = _member_grad_norm_sq(ensemble, split)
    return {"converged": done.cpu().numpy(), "steps": steps.cpu().numpy(),
            "grad_norm": norm_sq.detach().sqrt().cpu().numpy(),
            "train_loss": member_loss.detach().cpu().numpy()}


@torch.no_grad()
def _keep(kept: list[torch.Tensor], ensemble: MLPEnsemble, mask: torch.Tensor) -> None:
    # copy the current parameters of the members in `mask` into `kept`, without a sync
    for k, p in zip(kept, ensemble.parameters()):
        shape = (-1,) + (1,) * (p.dim() - 1)
        k.copy_(torch.where(mask.view(shape), p, k))


# checks of the Hessian code against known results
class Quadratic(nn.Module):
    """f(theta) = 1/2 theta^T A theta, whose Hessian is A; forward ignores its input."""

    def __init__(self, matrix: torch.Tensor):
        super().__init__()
        self.register_buffer("matrix", matrix)
        self.theta = nn.Parameter(torch.randn(len(matrix), dtype=matrix.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.theta @ self.matrix @ self.theta


def quadratic_check(eigenvalues: Iterable[float], seed: int = 0) -> dict[str, np.ndarray | float]:
    """Return the eigenvalues that loss_hessian finds for 1/2 theta^T A theta beside A's known ones.

    A = Q diag(eigenvalues) Q^T with Q a random orthogonal matrix (float64).
    """
    expected = np.sort(np.asarray(list(eigenvalues), dtype=float))
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(expected), len(expected), generator=generator,
                                       dtype=torch.float64))
    matrix = q @ torch.diag(torch.from_numpy(expected)) @ q.T
    model = Quadratic(matrix)
    found = hessian_eigenvalues(loss_hessian(model, lambda value, _: value, torch.zeros(1), None))
    return {"expected": expected, "computed": found,
            "max_abs_error": float(np.abs(found - expected).max())}


def finite_difference_hessian(model: nn.Module, loss_fn: Callable, x: torch.Tensor,
                              y: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Return the Hessian as central differences of the autograd gradient (column by column)."""
    loss, theta = flat_loss(model, loss_fn, x, y)

    def gradient(flat: torch.Tensor) -> torch.Tensor:
        flat = flat.detach().requires_grad_(True)
        return torch.autograd.grad(loss(flat), flat)[0]

    columns = []
    for j in range(len(theta)):
        step = torch.zeros_like(theta)
        step[j] = eps
        columns.append((gradient(theta + step) - gradient(theta - step)) / (2 * eps))
    return torch.stack(columns, dim=1)
