"""Part 3 runners: label permutation, model choice, summaries and the step-limited loop."""

import pytest
import torch

from hwlib import data, part3
from hwlib.models import build_model


@pytest.fixture(scope="module")
def mnist_labels(mnist_root):
    return data.load_mnist(True).y[:5000]


def test_random_labels_same_histogram(mnist_labels):
    permuted = data.random_labels(mnist_labels, seed=0)
    assert torch.equal(torch.bincount(permuted, minlength=10), torch.bincount(mnist_labels, minlength=10))


def test_random_labels_order_changed(mnist_labels):
    permuted = data.random_labels(mnist_labels, seed=0)
    # a random permutation keeps about 1 in 10 labels in place
    assert 0.8 < (permuted != mnist_labels).float().mean().item() < 0.95


def test_random_labels_seeded(mnist_labels):
    assert torch.equal(data.random_labels(mnist_labels, 3), data.random_labels(mnist_labels, 3))
    assert not torch.equal(data.random_labels(mnist_labels, 3), data.random_labels(mnist_labels, 4))


def test_reference_shuffle_duplicates(mnist_labels):
    histograms = part3.label_histograms(mnist_labels, seed=0)
    assert histograms["randperm"] == histograms["true"]
    assert histograms["random.shuffle"] != histograms["true"]
    assert sum(histograms["random.shuffle"]) == len(mnist_labels)


def test_param_model_names():
    assert part3.param_model_names([13, 1, 1]) == ["param-cnn-01", "param-cnn-13"]


@pytest.mark.parametrize("numbers", [[0], [14], [2, 20]])
def test_param_model_names_rejects(numbers):
    with pytest.raises(ValueError, match="numbered 1 to 13"):
        part3.param_model_names(numbers)


def test_rank_correlation():
    assert part3.rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert part3.rank_correlation([1, 2, 3, 4], [4.0, 3.0, 2.5, 0.1]) == pytest.approx(-1.0)
    assert part3.rank_correlation([1, 2], [1, 2]) != part3.rank_correlation([1, 2], [1, 2])


def test_first_epoch_above():
    history = {"epoch": [2, 4, 6], "train_acc": [0.5, 0.91, 0.99]}
    assert part3.first_epoch_above(history, "train_acc", 0.9) == 4
    assert part3.first_epoch_above(history, "train_acc", 0.995) is None


def test_loss_barrier():
    curve = {"alpha": [-0.5, 0.0, 0.5, 1.0, 1.5], "train_loss": [3.0, 0.2, 0.9, 0.3, 4.0]}
    assert part3.loss_barrier(curve, "train") == pytest.approx(0.6)


def test_train_steps_exact_count():
    model = build_model("flat-cnn")
    generator = torch.Generator().manual_seed(0)
    split = data.Split(torch.randn(50, 1, 28, 28, generator=generator),
                       torch.randint(0, 10, (50,), generator=generator))
    calls = []
    model[0].register_forward_hook(lambda *args: calls.append(1))
    # 7 steps of batch 20 cross an epoch boundary (3 steps per epoch)
    part3.train_steps(model, split, steps=7, lr=1e-3, batch_size=20, seed=0)
    assert len(calls) == 7
