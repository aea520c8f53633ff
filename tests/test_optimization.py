"""Tests of hwlib.optimization: grad norm, spikes, snapshots and PCA, Hessian, minimal ratio."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hwlib import data, ensemble, optimization, train


def test_grad_norm_hand_computed():
    # loss = (a*x + b - y)^2 with a=2, b=1, x=3, y=4: residual 3, dL/da = 18, dL/db = 6
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.bias.fill_(1.0)
    loss = F.mse_loss(model(torch.tensor([[3.0]])), torch.tensor([[4.0]]))
    loss.backward()
    assert optimization.grad_norm(model.parameters()).item() == pytest.approx(np.sqrt(18**2 + 6**2))


def test_grad_norm_recorder_every_step():
    recorder = optimization.GradNormRecorder()
    model = nn.Linear(1, 1)
    split = data.simulated("f1")
    train.fit(model, split, epochs=5, lr=1e-2, task="regression", callbacks=[recorder])
    values = recorder.values()
    assert values["grad_norm"].shape == (5,)
    assert values["loss"].shape == (5,)
    assert np.all(values["grad_norm"] > 0)


def test_grad_norm_without_gradients():
    with pytest.raises(ValueError, match="backward"):
        optimization.grad_norm(nn.Linear(1, 1).parameters())


def test_find_spikes_merges_consecutive():
    values = np.ones(100)
    values[60:63] = 10.0
    values[80] = 2.0  # below a factor of 3
    assert optimization.find_spikes(values, factor=3.0, window=20) == [60]


def test_snapshot_epochs_schedule():
    assert optimization.snapshot_epochs(45, 3) == list(range(0, 46, 3))
    assert optimization.snapshot_epochs(10, 3) == [0, 3, 6, 9, 10]


def test_pca_paths_shapes():
    rng = np.random.default_rng(0)
    snapshots = rng.normal(size=(8, 16, 50))
    out = optimization.pca_paths(snapshots)
    assert out["coords"].shape == (8, 16, 2)
    assert out["explained_variance_ratio"].shape == (2,)
    assert 0 < out["explained_variance_ratio"].sum() <= 1


def test_pca_paths_rejects_flat_input():
    with pytest.raises(ValueError, match="runs, steps, P"):
        optimization.pca_paths(np.zeros((10, 5)))


def test_hessian_quadratic_known_eigenvalues():
    known = [-3.0, -0.1, 0.0, 0.5, 2.0, 7.0]
    check = optimization.quadratic_check(known, seed=1)
    np.testing.assert_allclose(check["computed"], sorted(known), atol=1e-12)


def test_hessian_matches_finite_differences():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    x = torch.randn(20, 2, dtype=torch.float64)
    y = torch.randn(20, 1, dtype=torch.float64)
    exact = optimization.loss_hessian(model, F.mse_loss, x, y)
    approx = optimization.finite_difference_hessian(model, F.mse_loss, x, y)
    assert exact.shape == (13, 13)
    torch.testing.assert_close(exact, approx, atol=1e-7, rtol=1e-6)


def test_minimal_ratio_tolerance_rule():
    eigenvalues = np.array([-1.0, -1e-17, 3e-17, 1e-7, 2e-6, 0.5])
    assert optimization.minimal_ratio(eigenvalues, 1e-6) == pytest.approx(2 / 6)
    assert optimization.minimal_ratio(eigenvalues, 0.0) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="tolerance"):
        optimization.minimal_ratio(eigenvalues, -1.0)


def test_minimize_grad_norm_lowers_norm():
    split = data.simulated("f1")
    ens = ensemble.build_ensemble("sim-1", [0, 1])
    ensemble.fit_regression(ens, split, epochs=20, lr=1e-3)
    _, before = optimization._member_grad_norm_sq(ens, split)
    out = optimization.minimize_grad_norm(ens, split, lr=1e-3, tol=1e-9, max_steps=50)
    assert out["converged"].tolist() == [False, False]
    assert np.all(out["grad_norm"] < before.detach().sqrt().numpy())


def test_minimize_grad_norm_keeps_converged_state():
    split = data.simulated("f1")
    ens = ensemble.build_ensemble("sim-1", [0, 1])
    out = optimization.minimize_grad_norm(ens, split, lr=1e-3, tol=1e3, max_steps=20)
    assert out["converged"].tolist() == [True, True]
    assert out["steps"].tolist() == [0, 0]
