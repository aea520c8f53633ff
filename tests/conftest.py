"""Shared fixtures: MNIST location and a papermill runner for notebook smoke tests."""

import json
from pathlib import Path

import nbformat
import papermill
import pytest

from hwlib import data

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
KERNEL = "hw1-lab"


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """Return the data root after checking that `make data` fetched MNIST."""
    try:
        data.verify_mnist()
    except data.DataError as error:
        pytest.fail(f"MNIST is not ready; run `make data` first ({error})")
    return data.DEFAULT_DATA_ROOT


def execute_notebook(name: str, parameters: dict, out_dir: Path) -> nbformat.NotebookNode:
    """Execute notebooks/<name>.ipynb with papermill into out_dir and return the executed notebook.

    The results go to out_dir/results and the run cache is off, so the run
    neither reads nor writes build/.
    """
    parameters = {"results_dir": str(out_dir / "results"), "cache": False, "device": "cpu", **parameters}
    output = out_dir / f"{name}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"), str(output), parameters=parameters,
        kernel_name=KERNEL, cwd=str(NOTEBOOKS), progress_bar=False,
    )
    return nbformat.read(output, as_version=4)


def image_outputs(notebook: nbformat.NotebookNode) -> int:
    """Return the number of PNG images among the notebook's outputs."""
    return sum(
        1 for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []) if "image/png" in output.get("data", {})
    )


def read_results(out_dir: Path, exp_id: str) -> dict:
    """Read a results file written by `execute_notebook`."""
    return json.loads((out_dir / "results" / f"{exp_id}.json").read_text())
