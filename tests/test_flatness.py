"""Interpolation between state dicts and input sensitivity, checked against known values."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hwlib import flatness, train
from hwlib.data import Split
from hwlib.models import build_model


def tiny_split(n: int = 40, seed: int = 0) -> Split:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 28, 28, generator=generator)
    return Split(x, torch.randint(0, 10, (n,), generator=generator))


def tiny_model(seed: int = 0, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 12), nn.Tanh(), nn.Linear(12, 10))
    return model.to(dtype)


def test_interpolate_formula():
    state1 = {"w": torch.tensor([1.0, 2.0]), "steps": torch.tensor(5)}
    state2 = {"w": torch.tensor([3.0, -2.0]), "steps": torch.tensor(9)}
    mixed = flatness.interpolate(state1, state2, 0.25)
    assert torch.equal(mixed["w"], torch.tensor([1.5, 1.0]))
    assert mixed["steps"].item() == 5


def test_interpolate_extrapolates():
    mixed = flatness.interpolate({"w": torch.tensor([1.0])}, {"w": torch.tensor([3.0])}, -1.0)
    assert mixed["w"].item() == -1.0


def test_interpolate_rejects_other_shape():
    with pytest.raises(ValueError, match="shape"):
        flatness.interpolate({"w": torch.zeros(2)}, {"w": torch.zeros(3)}, 0.5)


def test_interpolate_rejects_other_names():
    with pytest.raises(ValueError, match="missing"):
        flatness.interpolate({"w": torch.zeros(2)}, {"v": torch.zeros(2)}, 0.5)


def test_alpha_grid_contains_endpoints():
    alphas = flatness.alpha_grid(-1.0, 2.0, 0.05)
    assert len(alphas) == 61
    assert alphas[0] == -1.0
    assert alphas[-1] == 2.0
    assert 0.0 in alphas.tolist()
    assert 1.0 in alphas.tolist()
    assert np.allclose(np.diff(alphas), 0.05)


@pytest.mark.parametrize("alpha_min, alpha_max, step", [(0.5, 2.0, 0.05), (-1.0, 0.8, 0.05),
                                                        (-1.0, 2.0, 0.03)])
def test_alpha_grid_rejects(alpha_min, alpha_max, step):
    with pytest.raises(ValueError, match="invalid α"):
        flatness.alpha_grid(alpha_min, alpha_max, step)


def test_evaluate_state_matches_evaluate():
    model = build_model("flat-cnn")
    split = tiny_split(50)
    direct = train.evaluate(model, split, batch_size=16)
    through_state = flatness.evaluate_state(model, model.state_dict(), split, batch_size=16)
    assert through_state == direct


def test_interpolation_endpoints_exact():
    model, other = build_model("flat-cnn"), build_model("flat-cnn")
    state1 = {k: v.clone() for k, v in model.state_dict().items()}
    state2 = {k: v.clone() for k, v in other.state_dict().items()}
    split = tiny_split(30)
    curve = flatness.interpolation_curve(model, state1, state2, [0.0, 0.5, 1.0], {"test": split})
    model.load_state_dict(state1)
    at_zero = train.evaluate(model, split)
    model.load_state_dict(state2)
    at_one = train.evaluate(model, split)
    assert (curve["test_loss"][0], curve["test_acc"][0]) == (at_zero["loss"], at_zero["acc"])
    assert (curve["test_loss"][2], curve["test_acc"][2]) == (at_one["loss"], at_one["acc"])
    assert curve["test_loss"][1] != curve["test_loss"][0]


def test_input_gradients_per_sample():
    model = tiny_model()
    split = tiny_split(6)
    batch = flatness.input_gradients(model, split.x, split.y)
    alone = flatness.input_gradients(model, split.x[2:3], split.y[2:3])
    assert torch.allclose(batch[2:3], alone, atol=1e-7)


def test_sensitivity_eval_batch_invariant():
    model = build_model("flat-cnn")
    split = tiny_split(50)
    small = flatness.sensitivity(model, split, batch_size=7)
    large = flatness.sensitivity(model, split, batch_size=50)
    assert small > 0
    assert small == pytest.approx(large, rel=1e-5)


def test_sensitivity_finite_difference():
    model = tiny_model(dtype=torch.float64)
    split = tiny_split(4)
    split = Split(split.x.double(), split.y)
    expected = 0.0
    step = 1e-6
    for i in range(len(split)):
        x, y = split.x[i:i + 1], split.y[i:i + 1]
        gradient = torch.zeros(784, dtype=torch.float64)
        for j in range(784):
            dx = torch.zeros(784, dtype=torch.float64)
            dx[j] = step
            dx = dx.view(1, 1, 28, 28)
            with torch.no_grad():
                up = F.cross_entropy(model(x + dx), y)
                down = F.cross_entropy(model(x - dx), y)
            gradient[j] = (up - down) / (2 * step)
        expected += gradient.pow(2).sum().item()
    expected = (expected / len(split)) ** 0.5
    assert flatness.sensitivity(model, split, batch_size=3) == pytest.approx(expected, rel=1e-6)
