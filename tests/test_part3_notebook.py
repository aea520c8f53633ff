"""Papermill run of Part 3 with tiny parameters: figures, checks and results files."""

import pytest

from conftest import execute_notebook, image_outputs, read_results
from hwlib.results import REQUIRED_FIELDS

EXPERIMENTS = ["random-labels", "param-count", "interpolation", "sensitivity"]
TINY = {
    "profile": "custom",
    "random_train_size": 200, "random_test_size": 200, "random_epochs": 3,
    "param_models": [1, 13], "param_train_size": 300, "param_test_size": 200, "param_epochs": 1,
    "flat_train_size": 300, "flat_eval_size": 100, "flat_epochs": 1, "flat_large_batch": 256,
    "alpha_min": -0.5, "alpha_max": 1.5,
    "sens_train_size": 200, "sens_test_size": 100, "sens_epochs": 1,
    "sens_batch_sizes": [64, 100, 200], "equal_steps": 3,
}


@pytest.fixture(scope="module")
def part3_run(tmp_path_factory, mnist_root):
    out_dir = tmp_path_factory.mktemp("part3")
    return out_dir, execute_notebook("part3_generalization", TINY, out_dir)


def output_text(notebook) -> str:
    return "".join(str(o.get("data", {})) + o.get("text", "")
                   for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.notebook
def test_part3_figures(part3_run):
    _, notebook = part3_run
    # random labels, param count, two interpolation pairs, two sensitivity sweeps
    assert image_outputs(notebook) == 6


@pytest.mark.notebook
def test_part3_verdicts_and_check(part3_run):
    _, notebook = part3_run
    text = output_text(notebook)
    assert text.count("Verdict.") == 7
    assert "check passed" in text


@pytest.mark.notebook
@pytest.mark.parametrize("exp_id", EXPERIMENTS)
def test_part3_results_fields(part3_run, exp_id):
    out_dir, _ = part3_run
    results = read_results(out_dir, exp_id)
    assert set(REQUIRED_FIELDS) <= set(results)
    assert results["status"] == "ok"
    assert results["profile"] == "custom"
    headline = results["summary"]["headline"]
    assert set(headline) == {"question", "result", "reference", "verdict"}
    assert headline["verdict"].startswith(("reproduced", "differs", "reference wrong"))


@pytest.mark.notebook
def test_part3_interpolation_results(part3_run):
    out_dir, _ = part3_run
    interp = read_results(out_dir, "interpolation")
    assert interp["summary"]["endpoints_exact"] is True
    curve = interp["models"]["batch"]["curve"]
    assert len(curve["alpha"]) == 41
    assert len(curve["test_loss"]) == 41


@pytest.mark.notebook
def test_part3_sensitivity_results(part3_run):
    out_dir, _ = part3_run
    sens = read_results(out_dir, "sensitivity")
    assert sens["models"]["equal_steps"]["steps"] == [3, 3, 3]
    assert sens["models"]["fixed_epochs"]["steps"] == [4, 2, 1]
    assert all(s > 0 for s in sens["models"]["fixed_epochs"]["sensitivity"])


@pytest.mark.notebook
def test_part3_random_labels_results(part3_run):
    out_dir, _ = part3_run
    rl = read_results(out_dir, "random-labels")
    model = rl["models"]["random-labels-mlp"]
    assert model["n_params"] == 1_362_122
    assert model["history"]["epoch"] == [1, 2, 3]
    assert model["labels_changed"] > 0.5
