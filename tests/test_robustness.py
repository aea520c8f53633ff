"""Runs that go wrong: bad parameters, divergence, interruption, nondeterminism, missing tools.

The papermill cases run every notebook in notebooks/ that exists when the tests
are collected, choosing the parameters to break from each notebook's own
parameters cell.
"""

import ast
import json
import os
import shutil
import subprocess
import time
import types
from pathlib import Path

import nbformat
import papermill
import psutil
import pytest
import torch
import yaml

from conftest import KERNEL, NOTEBOOKS, REPO_ROOT, execute_notebook, read_results
from hwlib import doctor, part1, plots, results
from hwlib.params import SCHEMAS, ParameterError, validate

NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
# the make run by a test is not part of a make that runs pytest (`make -j3 test`)
MAKE_ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
PART1 = "part1_deep_vs_shallow"


# parameter errors stop each notebook at its validation cell
def _defaults(path: Path) -> dict:
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    namespace: dict = {}
    exec(cell.source, namespace)
    namespace.pop("__builtins__")
    return namespace


def _first(values: dict, kind: type, schema: dict | None = None, rejects=None) -> str | None:
    """Return the first parameter with a default of `kind` (and that `schema` rejects as `rejects`)."""
    for name, value in values.items():
        if type(value) is kind and (schema is None or _rejected(schema, name, rejects)):
            return name
    return None


def _rejected(schema: dict, name: str, value) -> bool:
    try:
        schema[name].check(name, value)
    except ParameterError:
        return True
    return False


def _bad_parameter_cases() -> list:
    """Return (notebook, name, value as papermill's -p passes it, expected message) cases."""
    cases = []
    for path in NOTEBOOK_PATHS:
        values = _defaults(path)
        schema = SCHEMAS.get(path.stem.split("_")[0], {})
        picks = [
            (_first(values, int, schema, rejects=-1), -1, "=-1: expected an integer"),
            (_first(values, float), "abc", "='abc': expected a finite number"),
            ("device", "tpu", "='tpu': expected one of 'auto', 'cpu', 'cuda', 'mps'"),
            (_first(values, list), "[1,2]", "='[1,2]': expected a list"),
            ("learning_rat", 0.1, "unknown parameter(s) learning_rat"),
        ]
        cases += [pytest.param(path.stem, name, value, expected, id=f"{path.stem}-{name}")
                  for name, value, expected in picks if name]
    return cases


@pytest.mark.notebook
@pytest.mark.parametrize("stem, name, value, expected", _bad_parameter_cases())
def test_bad_parameter_stops_run(tmp_path, stem, name, value, expected):
    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(
            str(NOTEBOOKS / f"{stem}.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={name: value}, kernel_name=KERNEL, cwd=str(NOTEBOOKS), progress_bar=False)
    failure = error.value
    assert failure.ename == "ParameterError"
    assert "params.validate(" in failure.source
    assert name in failure.evalue
    assert expected in failure.evalue
    if name == "learning_rat":
        assert "declared parameters are:" in failure.evalue
    elif isinstance(value, str) and value.startswith("["):
        assert f'use -y "{name}: [1,2]"' in failure.evalue


# divergence: a learning rate too high is recorded as a failure and shown as one
TINY = {
    "profile": "custom", "sim_epochs": 60, "sim_seeds": [0],
    "mnist_train_size": 300, "mnist_test_size": 300, "batch_size": 64,
    "dnn_epochs": 1, "cnn_epochs": 1,
}


def _output_text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(
        output.get("text", "") + "".join(str(v) for v in output.get("data", {}).values())
        for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)


@pytest.mark.notebook
def test_diverged_part1_completes(tmp_path, mnist_root):
    # sim-1 on f1 reaches a non-finite loss within six epochs at this rate
    notebook = execute_notebook(PART1, {**TINY, "sim_lr_f1": 1e3}, tmp_path)

    sim = read_results(tmp_path, "sim-fit")
    assert sim["status"] == "failed"
    assert sim["error"].startswith(
        "TrainingDiverged: sim-1 on f1: member with seed 0 has training loss")
    assert " at epoch " in sim["error"]
    assert read_results(tmp_path, "mnist-fit")["status"] == "ok"

    text = _output_text(notebook)
    assert text.count("**Verdict.** sim-fit failed: TrainingDiverged") == 2
    assert "KeyError" not in text


def _failed_sim() -> dict:
    return {"id": "sim-fit", "status": "failed", "error": "TrainingDiverged: sim-1 ... epoch 6",
            "models": {}, "summary": {}, "seeds": [0]}


def test_failed_figure_states_error():
    fig = plots.sim_loss_curves(_failed_sim(), "f1", "Training loss on f1")
    texts = [t.get_text().replace("\n", " ") for t in fig.texts]
    assert texts == ["sim-fit failed: TrainingDiverged: sim-1 ... epoch 6"]
    assert not fig.axes


def test_failed_verdicts_and_tables():
    sim = _failed_sim()
    assert part1.sim_verdict(sim, "f2") == "sim-fit failed: TrainingDiverged: sim-1 ... epoch 6"
    assert part1.sim_parameter_rows(sim) == [
        {"status": "sim-fit failed: TrainingDiverged: sim-1 ... epoch 6"}]
    mnist = {**sim, "id": "mnist-fit"}
    assert part1.mnist_verdict(mnist, "cnn").startswith("mnist-fit failed:")
    assert part1.comparison_rows(mnist)[0]["status"].startswith("mnist-fit failed:")


# interruption: a killed `make` run resumes from the run cache
def _snapshot(root: Path) -> Path:
    """Copy what `make` needs to run Part 1 into `root`, so edits made meanwhile keep cache keys."""
    shutil.copytree(REPO_ROOT / "hwlib", root / "hwlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "params" / PART1, root / "params" / PART1)
    (root / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS / f"{PART1}.ipynb", root / "notebooks")
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, root)
    for name in (".venv", "data"):
        (root / name).symlink_to(REPO_ROOT / name)
    return root


def _make_command(nb_dir: Path) -> list[str]:
    overrides = " ".join(f"-p {k} {v}" for k, v in {
        **TINY, "sim_seeds": None, "device": "cpu", "cache": True,
        "mnist_train_size": 1000, "dnn_epochs": 2, "cnn_epochs": 2}.items() if v is not None)
    return ["make", "-o", ".venv/.installed", "-o", "data/MNIST/raw/.verified", f"BUILD={nb_dir}",
            f"PAPERMILL_ARGS={overrides}", str(nb_dir / f"{PART1}.ipynb")]


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill `process` and every process it started (the kernel runs in its own session)."""
    parent = psutil.Process(process.pid)
    for victim in [*parent.children(recursive=True), parent]:
        try:
            victim.kill()
        except psutil.NoSuchProcess:
            pass  # it exited between the listing and the kill
    process.wait(timeout=30)


def _cache_entries(build: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in build.glob("custom/cache/**/output.pkl")}


def _start_until_results(command: list[str], cwd: Path, env: dict,
                         results_file: Path) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 400
    while not results_file.exists():
        assert process.poll() is None, "make ended before sim-fit wrote its results"
        assert time.monotonic() < deadline, "sim-fit did not finish in 400 s"
        time.sleep(0.2)
    return process


@pytest.mark.notebook
def test_killed_run_resumes(tmp_path, mnist_root):
    repo, nb_dir, build = _snapshot(tmp_path / "repo"), tmp_path / "notebooks", tmp_path / "build"
    # the kernel imports hwlib from the snapshot, ahead of the editable install
    env = {**MAKE_ENV, "PYTHONPATH": str(repo), results.BUILD_DIR_ENV: str(build)}
    results_root = build / "custom" / "results"

    process = _start_until_results(_make_command(nb_dir), repo, env, results_root / "sim-fit.json")
    _kill_tree(process)
    assert not (results_root / "mnist-fit.json").exists(), "killed too late: mnist-fit had finished"
    assert not (nb_dir / f"{PART1}.ipynb").exists()
    assert json.loads((results_root / "sim-fit.json").read_text())["status"] == "ok"
    before = _cache_entries(build)
    assert len(before) >= 6

    rerun = subprocess.run(_make_command(nb_dir), cwd=repo, env=env, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = _cache_entries(build)
    assert {path: after.get(path) for path in before} == before

    text = _output_text(nbformat.read(nb_dir / f"{PART1}.ipynb", as_version=4))
    assert "sim-1 on f1 epoch" not in text
    assert "dnn-1 epoch 2/2" in text
    assert not list(nb_dir.glob("*.partial.ipynb"))
    assert read_results(build / "custom", "mnist-fit")["status"] == "ok"


# determinism: the same seed gives the same numbers, bit for bit, on CPU
def _without_wall_time(value):
    if isinstance(value, dict):
        return {k: _without_wall_time(v) for k, v in value.items() if k != "wall_time_s"}
    if isinstance(value, list):
        return [_without_wall_time(v) for v in value]
    return value


def _tiny_params(results_dir: Path) -> types.SimpleNamespace:
    values = yaml.safe_load((REPO_ROOT / "params" / PART1 / "quick.yaml").read_text())
    values.update(TINY, sim_epochs=30, device="cpu", cache=False, results_dir=str(results_dir))
    return validate("part1", values)


@pytest.fixture
def one_thread():
    # on a busy 2-core machine, tiny models train about 30 times faster on one thread
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_part1_runs_repeat_exactly(tmp_path, mnist_root, one_thread):
    runs = []
    for attempt in ("first", "second"):
        p = _tiny_params(tmp_path / attempt)
        sim, mnist = part1.run_sim_fit(p, "cpu"), part1.run_mnist_fit(p, "cpu")
        runs.append(_without_wall_time({"sim": sim["models"], "mnist": mnist["models"]}))
    assert runs[0] == runs[1]
    assert runs[0]["sim"]["sim-1"]["f1"]["prediction"][0][:3] != [0.0, 0.0, 0.0]
    assert len(runs[0]["mnist"]["cnn-3"]["history"]["test_loss"]) == 1


# environment: missing kernel, commands and PDF tools name the fix
def test_doctor_passes_here():
    assert doctor.problems() == []


def test_doctor_missing_kernel():
    message = doctor.check_kernel("hw1-lab-missing")
    assert message == ("Jupyter kernel 'hw1-lab-missing' not found; run `.venv/bin/python -m "
                       "ipykernel install --sys-prefix --name hw1-lab-missing` "
                       "(or `rm .venv/.installed; make venv`)")


def test_doctor_missing_command(tmp_path):
    message = doctor.check_command("papermill", tmp_path)
    assert message.startswith(f"papermill not found in {tmp_path} (it comes with papermill); run ")
    assert "pip install -r requirements.txt" in message


def test_doctor_missing_pdf_tool():
    assert doctor.check_pdf_tools(("no-such-pdf-tool",)) == [
        "no-such-pdf-tool not found on the PATH; `make pdf` needs it: "
        "run `sudo apt-get install chromium poppler-utils`"]


def test_make_doctor_stops_on_missing_kernel():
    done = subprocess.run(["make", "-o", ".venv/.installed", "doctor", "KERNEL=hw1-lab-missing"],
                          cwd=REPO_ROOT, env=MAKE_ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    expected = "error: Jupyter kernel 'hw1-lab-missing' not found; run `.venv/bin/python -m"
    assert expected in done.stderr


def test_make_report_runs_doctor_first():
    command = ["make", "-n", "-B", "-o", ".venv/.installed", "-o", "data/MNIST/raw/.verified",
               "report"]
    dry = subprocess.run(command, cwd=REPO_ROOT, env=MAKE_ENV, capture_output=True, text=True,
                         timeout=60)
    lines = dry.stdout.splitlines()
    doctor_line = next(i for i, line in enumerate(lines) if "hwlib.doctor" in line)
    papermill_lines = [i for i, line in enumerate(lines) if "bin/papermill" in line]
    assert len(papermill_lines) == len(NOTEBOOK_PATHS)
    assert doctor_line < min(papermill_lines)


def test_make_rejects_unknown_profile():
    done = subprocess.run(["make", "-n", "report", "PROFILE=quik"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "unknown PROFILE 'quik'; expected one of: full quick" in done.stderr
