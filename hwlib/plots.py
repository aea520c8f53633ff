"""Figures: one function per kind of figure, all in one seaborn theme.

Each function takes results as stored in a results file (plain lists) and
returns the matplotlib Figure, so notebooks show it and tests can inspect it.
"""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

FIGSIZE = (7.5, 4.2)
WIDE_FIGSIZE = (11, 4.2)


def set_theme() -> None:
    """Apply the report's seaborn theme and figure defaults."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "figure.constrained_layout.use": True,
        "axes.titlesize": "medium",
        "legend.fontsize": "small",
    })


def mean_band(ax, x: Sequence[float], runs: Sequence[Sequence[float]], label: str, **kwargs) -> None:
    """Plot the mean over runs as a line and, with several runs, a band of +-1 std."""
    values = np.asarray(runs, dtype=float)
    mean = values.mean(axis=0)
    (line,) = ax.plot(x, mean, label=label, **kwargs)
    if len(values) > 1:
        std = values.std(axis=0)
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)


def sim_loss_curves(sim: dict, function: str, title: str) -> Figure:
    """Plot training MSE vs epoch (log y) of each simulated-function model."""
    fig, ax = plt.subplots(figsize=FIGSIZE)
    for name, model in sim["models"].items():
        runs = model[function]["train_loss"]
        epochs = np.arange(1, len(runs[0]) + 1)
        mean_band(ax, epochs, runs, label=f"{name} ({model['n_params']} params)")
    ax.set(xlabel="epoch", ylabel="training loss (MSE)", yscale="log", title=title)
    ax.legend()
    return fig


def sim_predictions(sim: dict, function: str, title: str) -> Figure:
    """Plot each model's prediction (mean over seeds) against the ground truth."""
    fig, ax = plt.subplots(figsize=FIGSIZE)
    target = sim["summary"]["targets"][function]
    ax.plot(target["x"], target["y"], color="black", linewidth=2.5, label="ground truth")
    for name, model in sim["models"].items():
        prediction = np.mean(model[function]["prediction"], axis=0)
        ax.plot(target["x"], prediction, label=name)
    ax.set(xlabel="x", ylabel="f(x)", title=title)
    ax.legend()
    return fig


def mnist_curves(mnist: dict, names: Sequence[str], title: str) -> Figure:
    """Plot train and test loss (log y) and accuracy vs epoch for the named models."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=WIDE_FIGSIZE)
    palette = sns.color_palette(n_colors=len(names))
    for color, name in zip(palette, names):
        history = mnist["models"][name]["history"]
        for split, style in (("train", "-"), ("test", "--")):
            ax_loss.plot(history["epoch"], history[f"{split}_loss"], style, color=color, label=f"{name} {split}")
            ax_acc.plot(history["epoch"], np.asarray(history[f"{split}_acc"]) * 100, style, color=color,
                        label=f"{name} {split}")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log", title=f"{title}: loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}: accuracy")
    ax_acc.legend(ncols=2)
    return fig
