"""Tests for hwlib.train: learning on MNIST, history fields, divergence, determinism."""

import pytest
import torch

from hwlib import data, train
from hwlib.models import build_model


@pytest.fixture(scope="module")
def mnist_small(mnist_root):
    """Return 2,000 training and 1,000 test images of real MNIST."""
    return data.load_mnist(True).subset(2000, 0), data.load_mnist(False).subset(1000, 0)


def fit_dnn(splits, seed=0, **kwargs):
    train.seed_everything(seed)
    model = build_model("dnn-1")
    settings = {"epochs": 3, "lr": 1e-3, "batch_size": 64, "seed": seed, **kwargs}
    return model, train.fit(model, *splits, **settings)


def test_fit_lowers_loss(mnist_small):
    untrained = build_model("dnn-1")
    before = train.evaluate(untrained, mnist_small[0])
    _, history = fit_dnn(mnist_small)

    assert history["train_loss"][-1] < 0.5 * before["loss"]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["test_acc"][-1] > 0.8


def test_fit_history_fields(mnist_small):
    _, history = fit_dnn(mnist_small, epochs=4, eval_every=2)

    assert history["epoch"] == [2, 4]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert len(history[key]) == 2, key
    assert history["steps"] == 4 * 32  # 2,000 samples in batches of 64
    assert history["wall_time_s"] > 0


def test_fit_regression_history():
    split = data.simulated("f1")
    model = build_model("sim-3")
    history = train.fit(model, split, epochs=50, lr=1e-2, task="regression")

    assert history["epoch"] == list(range(1, 51))
    assert len(history["train_loss"]) == 50
    assert history["steps"] == 50
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_fit_diverged(mnist_small):
    with pytest.raises(train.TrainingDiverged, match=r"dnn-huge-lr: .* at epoch 1;"):
        fit_dnn(mnist_small, epochs=2, lr=1e12, name="dnn-huge-lr")


def test_fit_same_seed(mnist_small):
    model_a, history_a = fit_dnn(mnist_small, epochs=2)
    model_b, history_b = fit_dnn(mnist_small, epochs=2)
    _, history_c = fit_dnn(mnist_small, epochs=2, seed=1)

    for key in ("train_loss", "test_loss", "test_acc"):
        assert history_a[key] == history_b[key], key
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(a, b)
    assert history_a["train_loss"] != history_c["train_loss"]


def test_evaluate_no_grad(mnist_small):
    model = build_model("dnn-1").train()
    metrics = train.evaluate(model, mnist_small[1])

    assert model.training
    assert set(metrics) == {"loss", "acc"}
    assert 0 <= metrics["acc"] <= 1
    assert all(p.grad is None for p in model.parameters())


def test_select_device_invalid():
    with pytest.raises(ValueError, match="'gpu'"):
        train.select_device("gpu")
