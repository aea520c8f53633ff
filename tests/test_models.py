"""Parameter counts of every named model, and the builders' errors."""

import pytest
import torch

from hwlib.models import MODEL_NAMES, build_model, count_parameters

EXPECTED_PARAMS = {
    "sim-1": 571, "sim-2": 572, "sim-3": 571,
    "dnn-1": 111_514, "dnn-2": 18_026, "dnn-3": 407_050,
    "cnn-1": 408_298, "cnn-2": 760_762, "cnn-3": 110_652,
    "pca-mlp": 41_090, "gradnorm-mlp": 34_741, "gradnorm-cnn": 942_026,
    "random-labels-mlp": 1_362_122,
    "param-cnn-01": 20_635, "param-cnn-02": 36_820, "param-cnn-03": 53_885,
    "param-cnn-04": 87_335, "param-cnn-05": 177_360, "param-cnn-06": 268_384,
    "param-cnn-07": 445_980, "param-cnn-08": 622_710, "param-cnn-09": 916_518,
    "param-cnn-10": 1_135_610, "param-cnn-11": 1_562_510, "param-cnn-12": 2_097_510,
    "param-cnn-13": 2_404_042,
    "flat-cnn": 340_264, "sensitivity-cnn": 2_137_674,
}


def test_every_model_is_listed():
    assert set(MODEL_NAMES) == set(EXPECTED_PARAMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_parameter_count(name):
    assert count_parameters(build_model(name)) == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_output_shape(name):
    model = build_model(name).eval()
    x = torch.zeros(2, 1) if name.startswith(("sim-", "gradnorm-mlp")) else torch.zeros(2, 1, 28, 28)
    expected = 1 if name.startswith(("sim-", "gradnorm-mlp")) else 10
    assert model(x).shape == (2, expected)


def test_part1_cnns_have_dropout_in_training_only():
    model = build_model("cnn-1")
    x = torch.randn(4, 1, 28, 28)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    first = model(x)
    assert not torch.equal(first, model(x))


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model name 'dnn-9'"):
        build_model("dnn-9")


def test_frozen_parameters_not_counted():
    model = build_model("sim-3")
    model[0].weight.requires_grad_(False)
    assert count_parameters(model) == 571 - 190
