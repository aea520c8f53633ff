"""Figures in executed notebooks, and the code hidden in the rendered HTML.

Every figure cell of an executed notebook shows a real image. Part 1's figures
have axis labels, titles, legends, log scales for losses and bands over seeds.
"""

import base64
import copy
import io
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from conftest import execute_notebook, read_results
from hwlib import part1, plots

REPO_ROOT = Path(__file__).resolve().parents[1]
JUPYTER = REPO_ROOT / ".venv" / "bin" / "jupyter"
TINY = {
    "profile": "custom", "sim_epochs": 40, "sim_seeds": [0, 1],
    "mnist_train_size": 256, "mnist_test_size": 256, "batch_size": 64,
    "dnn_epochs": 2, "cnn_epochs": 2,
}
EXECUTED = sorted(p for p in (REPO_ROOT / "build").glob("*/*.ipynb") if ".partial" not in p.name)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def figure_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """Return the code cells that call a figure function of hwlib.plots."""
    return [c for c in notebook.cells if c.cell_type == "code" and "plots." in c.source
            and "plots.set_theme" not in c.source]


def is_real_image(payload: str) -> bool:
    """Return whether a base64 PNG decodes to an image of at least 200x100 pixels that is not blank."""
    raw = base64.b64decode(payload)
    if not raw.startswith(PNG_SIGNATURE):
        return False
    pixels = matplotlib.image.imread(io.BytesIO(raw), format="png")
    return pixels.shape[0] >= 100 and pixels.shape[1] >= 200 and float(pixels.std()) > 0.01


def skipped_by_profile(cell: nbformat.NotebookNode) -> bool:
    """Return whether a conditional figure cell printed why its profile skips the figure."""
    printed = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    return cell.source.startswith("if ") and "in this profile" in printed


def missing_figures(notebook: nbformat.NotebookNode) -> list[str]:
    """Return the first line of each figure cell whose outputs contain no real PNG image."""
    missing = []
    for cell in figure_cells(notebook):
        images = [o["data"]["image/png"] for o in cell.get("outputs", [])
                  if "image/png" in o.get("data", {})]
        if not any(is_real_image(image) for image in images) and not skipped_by_profile(cell):
            missing.append(cell.source.splitlines()[0])
    return missing


@pytest.fixture(scope="module")
def part1_run(tmp_path_factory, mnist_root):
    out_dir = tmp_path_factory.mktemp("figures")
    return out_dir, execute_notebook("part1_deep_vs_shallow", TINY, out_dir)


@pytest.fixture(scope="module")
def part1_results(part1_run):
    out_dir, _ = part1_run
    plots.set_theme()
    return read_results(out_dir, "sim-fit"), read_results(out_dir, "mnist-fit")


def test_blank_image_rejected():
    figure = plt.figure(figsize=(4, 2))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    assert not is_real_image(base64.b64encode(buffer.getvalue()).decode())


@pytest.mark.notebook
def test_part1_every_figure_drawn(part1_run):
    _, notebook = part1_run
    assert len(figure_cells(notebook)) == 6
    assert missing_figures(notebook) == []


@pytest.mark.skipif(not EXECUTED, reason="no executed notebooks under build/; run `make report`")
@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_executed_notebook_figures(path):
    notebook = nbformat.read(path, as_version=4)
    assert figure_cells(notebook), f"{path} has no figure cells"
    assert missing_figures(notebook) == []


def spans_decades(ax) -> bool:
    """Return whether the positive y data of the axes' lines span a factor of 10 or more."""
    y = np.concatenate([line.get_ydata() for line in ax.get_lines()]).astype(float)
    y = y[np.isfinite(y) & (y > 0)]
    return y.max() / y.min() >= 10


def assert_readable(figure, loss_axes: bool) -> None:
    """Assert every axes has labels and a title, the figure a legend, and a loss axes log y
    exactly when its data span decades."""
    for ax in figure.axes:
        assert ax.get_xlabel(), f"axes {ax.get_title()!r} has no x label"
        assert ax.get_ylabel(), f"axes {ax.get_title()!r} has no y label"
        assert ax.get_title(), "an axes has no title"
    assert figure.legends or any(ax.get_legend() for ax in figure.axes), "figure has no legend"
    first = figure.axes[0]
    if loss_axes:
        assert (first.get_yscale() == "log") == spans_decades(first)
        assert ("log scale" in first.get_ylabel()) == (first.get_yscale() == "log")
    else:
        assert first.get_yscale() == "linear"
    plt.close(figure)


@pytest.mark.parametrize("values, scale", [([[0.5, 0.05]], "log"), ([[1.2, 0.9]], "linear"),
                                           ([[0.0, 1.0], [2.0]], "linear"), ([[np.nan, 3.0, 0.2]], "log")])
def test_scale_y_by_span(values, scale):
    figure, ax = plt.subplots()
    plots.scale_y(ax, values, "loss")
    assert ax.get_yscale() == scale
    assert ax.get_ylabel() == ("loss, log scale" if scale == "log" else "loss")
    plt.close(figure)


@pytest.mark.notebook
def test_sim_figures_readable(part1_results):
    sim, _ = part1_results
    for function in ("f1", "f2"):
        assert_readable(plots.sim_loss_curves(sim, function, "loss"), loss_axes=True)
        assert_readable(plots.sim_predictions(sim, function, "predictions"), loss_axes=False)


@pytest.mark.notebook
def test_sim_loss_epoch_axis(part1_results, monkeypatch):
    # long runs store every k-th epoch; the x axis must still end at the last epoch
    monkeypatch.setattr(part1, "MAX_CURVE_POINTS", 10)
    run = part1.train_sim_runs("sim-1", "f1", seeds=[0, 1], epochs=40, lr=1e-3, weight_decay=1e-4,
                               device="cpu")
    sim = copy.deepcopy(part1_results[0])
    for model in sim["models"].values():
        model["f1"].update(epoch=run["epoch"], train_loss=run["train_loss"].tolist())

    figure = plots.sim_loss_curves(sim, "f1", "loss")
    x = figure.axes[0].get_lines()[0].get_xdata()
    assert len(x) == 10
    assert x[0] == 4
    assert x[-1] == 40
    plt.close(figure)


@pytest.mark.notebook
def test_sim_figures_seed_bands(part1_results):
    sim, _ = part1_results
    for figure in (plots.sim_loss_curves(sim, "f1", "loss"), plots.sim_predictions(sim, "f1", "fit")):
        bands = [c for c in figure.axes[0].collections if isinstance(c, PolyCollection)]
        assert len(bands) == len(part1.SIM_MODELS)
        assert "2 seeds" in figure.axes[0].get_legend().get_title().get_text()
        plt.close(figure)


@pytest.mark.notebook
def test_mnist_figure_readable(part1_results):
    _, mnist = part1_results
    figure = plots.mnist_curves(mnist, part1.CNN_MODELS, "CNNs")
    assert len(figure.axes) == 2
    assert_readable(figure, loss_axes=True)
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert labels[-2:] == ["train set", "test set"]
    assert any(label.startswith("cnn-1 (") for label in labels)


@pytest.mark.notebook
def test_part1_run_summary(part1_run):
    _, notebook = part1_run
    last = notebook.cells[-1]
    assert "show_run_summary" in last.source
    text = "".join(str(o.get("data", {}).get("text/html", "")) for o in last.outputs)
    assert "sim-fit" in text
    assert "mnist-fit" in text
    assert "wall time" in text
    assert text.count(">ok<") == 2


def render_html(executed: Path, out_dir: Path, show_code: bool) -> str:
    """Render an executed notebook as `make report` does and return the HTML."""
    flags = ["--to", "html", "--embed-images", "--no-prompt", *([] if show_code else ["--no-input"])]
    subprocess.run([str(JUPYTER), "nbconvert", *flags, "--output-dir", str(out_dir), str(executed)],
                   check=True, capture_output=True)
    return (out_dir / f"{executed.stem}.html").read_text()


@pytest.mark.notebook
def test_html_hides_code(part1_run, tmp_path):
    out_dir, _ = part1_run
    executed = out_dir / "part1_deep_vs_shallow.ipynb"
    hidden = render_html(executed, tmp_path / "hidden", show_code=False)
    shown = render_html(executed, tmp_path / "shown", show_code=True)
    assert "run_sim_fit" not in hidden
    assert "run_sim_fit" in shown
    assert hidden.count("data:image/png;base64") >= 6


@pytest.mark.notebook
def test_make_show_code_rerenders(part1_run, tmp_path):
    out_dir, _ = part1_run
    build, pages = tmp_path / "build", tmp_path / "report"
    build.mkdir()
    executed = build / "part1_deep_vs_shallow.ipynb"
    shutil.copy(out_dir / "part1_deep_vs_shallow.ipynb", executed)
    executed.touch()  # newer than hwlib/, so make renders it and does not run it again

    for show_code in ("0", "1", "0"):
        subprocess.run(["make", str(pages / executed.with_suffix(".html").name), f"BUILD={build}",
                        f"REPORT={pages}", f"SHOW_CODE={show_code}"],
                       cwd=REPO_ROOT, check=True, capture_output=True)
        page = (pages / "part1_deep_vs_shallow.html").read_text()
        assert ("run_sim_fit" in page) == (show_code == "1"), f"SHOW_CODE={show_code}"
