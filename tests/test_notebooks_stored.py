"""Notebooks in git: no outputs, one tagged parameters cell, and names that match the schema and profiles."""

import ast
from pathlib import Path

import nbformat
import pytest
import yaml

from hwlib.params import SCHEMAS

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
SCHEMA_KEYS = {path.stem: path.stem.split("_")[0] for path in NOTEBOOKS}


def _parameters_cells(notebook):
    return [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]


def _assigned_names(source: str) -> list[str]:
    return [target.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)]


def test_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS][:1] == ["part1_deep_vs_shallow"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a code cell has outputs; clear them before committing"
            assert cell.execution_count is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell(path):
    assert len(_parameters_cells(nbformat.read(path, as_version=4))) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameter_names_match_schema(path):
    cell = _parameters_cells(nbformat.read(path, as_version=4))[0]
    assert _assigned_names(cell.source) == list(SCHEMAS[SCHEMA_KEYS[path.stem]])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", ["quick", "full"])
def test_profile_names_match_schema(path, profile):
    values = yaml.safe_load((REPO_ROOT / "params" / path.stem / f"{profile}.yaml").read_text())
    assert list(values) == list(SCHEMAS[SCHEMA_KEYS[path.stem]])
    assert values["profile"] == profile


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", ["quick", "full"])
def test_profile_values_validate(path, profile):
    from hwlib.params import validate

    values = yaml.safe_load((REPO_ROOT / "params" / path.stem / f"{profile}.yaml").read_text())
    validate(SCHEMA_KEYS[path.stem], values)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cell_defaults_validate(path):
    from hwlib.params import validate

    cell = _parameters_cells(nbformat.read(path, as_version=4))[0]
    namespace: dict = {}
    exec(cell.source, namespace)
    namespace.pop("__builtins__")
    validate(SCHEMA_KEYS[path.stem], namespace)
