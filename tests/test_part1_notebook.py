"""Papermill run of Part 1 with tiny parameters: figures, tables and results files."""

import pytest

from conftest import execute_notebook, image_outputs, read_results
from hwlib.results import REQUIRED_FIELDS

TINY = {
    "profile": "custom", "sim_epochs": 60, "sim_seeds": [0, 1],
    "mnist_train_size": 300, "mnist_test_size": 300, "batch_size": 64,
    "dnn_epochs": 2, "cnn_epochs": 2,
}


@pytest.fixture(scope="module")
def part1_run(tmp_path_factory, mnist_root):
    out_dir = tmp_path_factory.mktemp("part1")
    return out_dir, execute_notebook("part1_deep_vs_shallow", TINY, out_dir)


@pytest.mark.notebook
def test_part1_figures(part1_run):
    _, notebook = part1_run
    assert image_outputs(notebook) == 6


@pytest.mark.notebook
def test_part1_verdicts_and_table(part1_run):
    _, notebook = part1_run
    text = "".join(str(o.get("data", {})) for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert text.count("Verdict.") == 4
    assert "ref test acc" in text


@pytest.mark.notebook
@pytest.mark.parametrize("exp_id", ["sim-fit", "mnist-fit"])
def test_part1_results_fields(part1_run, exp_id):
    out_dir, _ = part1_run
    results = read_results(out_dir, exp_id)
    assert set(REQUIRED_FIELDS) <= set(results)
    assert results["status"] == "ok"
    assert results["profile"] == "custom"
    assert results["provenance"]["torch_version"]
    assert results["wall_time_s"] > 0
    assert set(results["summary"]["headline"]) == {"question", "result", "reference", "verdict"}


@pytest.mark.notebook
def test_part1_sim_results(part1_run):
    out_dir, _ = part1_run
    sim = read_results(out_dir, "sim-fit")
    assert sim["seeds"] == [0, 1]
    assert [m["n_params"] for m in sim["models"].values()] == [571, 572, 571]
    assert len(sim["models"]["sim-1"]["f1"]["train_loss"]) == 2
    assert len(sim["models"]["sim-1"]["f1"]["train_loss"][0]) == 60


@pytest.mark.notebook
def test_part1_mnist_results(part1_run):
    out_dir, _ = part1_run
    mnist = read_results(out_dir, "mnist-fit")
    assert list(mnist["models"]) == ["dnn-1", "dnn-2", "dnn-3", "cnn-1", "cnn-2", "cnn-3"]
    history = mnist["models"]["dnn-1"]["history"]
    assert history["epoch"] == [1, 2]
    assert 0.0 <= history["test_acc"][-1] <= 1.0
