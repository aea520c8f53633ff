"""Tests of hwlib.ensemble: member e of an ensemble equals seed e trained alone."""

import pytest
import torch

from hwlib import data, ensemble, train
from hwlib.models import build_model


def _flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_member_initialization_matches_seed():
    ens = ensemble.build_ensemble("sim-1", [3, 7])
    for e, seed in enumerate([3, 7]):
        train.seed_everything(seed)
        alone = build_model("sim-1")
        assert torch.equal(_flat(ens.member(e)), _flat(alone))
        assert torch.equal(ens.member_vectors()[e], _flat(alone))


def test_regression_member_equals_alone():
    split = data.simulated("f1")
    seeds = [0, 1, 2]
    ens = ensemble.build_ensemble("sim-1", seeds)
    history = ensemble.fit_regression(ens, split, epochs=60, lr=1e-3, weight_decay=1e-4)
    assert history["train_loss"].shape == (3, 60)
    for e, seed in enumerate(seeds):
        train.seed_everything(seed)
        alone = build_model("sim-1")
        alone_history = train.fit(alone, split, epochs=60, lr=1e-3, weight_decay=1e-4,
                                  task="regression", seed=seed)
        assert history["train_loss"][e, -1] == pytest.approx(alone_history["train_loss"][-1], rel=1e-4)
        assert torch.allclose(ens.member_vectors()[e], _flat(alone), atol=1e-5)


def test_classification_member_equals_alone(mnist_root):
    train_split = data.load_mnist(True).subset(600, 0)
    test_split = data.load_mnist(False).subset(300, 0)
    seeds = [4, 5]
    ens = ensemble.build_ensemble("pca-mlp", seeds)
    history = ensemble.fit_classification(ens, train_split, test_split, epochs=2, lr=1e-3,
                                          batch_size=150)
    assert history["test_acc"].shape == (2, 2)
    for e, seed in enumerate(seeds):
        train.seed_everything(seed)
        alone = build_model("pca-mlp")
        alone_history = train.fit(alone, train_split, test_split, epochs=2, lr=1e-3,
                                  batch_size=150, seed=seed)
        assert history["train_loss"][e, -1] == pytest.approx(alone_history["train_loss"][-1], rel=1e-4)
        assert history["test_acc"][e, -1] == pytest.approx(alone_history["test_acc"][-1], abs=2e-3)
        assert torch.allclose(ens.member_vectors()[e], _flat(alone), atol=1e-4)


def test_snapshot_hook_epochs():
    seen = []
    ens = ensemble.build_ensemble("sim-1", [0, 1])
    ensemble.fit_regression(ens, data.simulated("f1"), epochs=7, lr=1e-3, snapshot_epochs={0, 3, 6, 7},
                            on_snapshot=lambda epoch, model: seen.append(epoch))
    assert seen == [0, 3, 6, 7]


def test_divergence_names_seed():
    ens = ensemble.build_ensemble("sim-1", [11, 12])
    with torch.no_grad():
        ens.weights[0][1].fill_(float("nan"))
    with pytest.raises(train.TrainingDiverged, match=r"seed 12 .* epoch 1\b"):
        ensemble.fit_regression(ens, data.simulated("f1"), epochs=3, lr=1e-3)


def test_rejects_cnn():
    with pytest.raises(ValueError, match="gradnorm-cnn"):
        ensemble.build_ensemble("gradnorm-cnn", [0])


def test_rejects_repeated_seeds():
    with pytest.raises(ValueError, match="distinct seeds"):
        ensemble.build_ensemble("sim-1", [1, 1])
