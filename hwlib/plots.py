"""Figures: one function per kind of figure, all in one seaborn theme.

Each function takes results as stored in a results file (plain lists) and
returns the matplotlib Figure, so notebooks show it and tests can inspect it.
"""

import functools
import textwrap
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from hwlib.results import failure

FIGSIZE = (7.5, 4.2)
WIDE_FIGSIZE = (11, 4.2)


def failure_figure(message: str) -> Figure:
    """Return a small figure that states `message` where a failed experiment's plot would be."""
    fig = plt.figure(figsize=(FIGSIZE[0], 1.0))
    fig.text(0.5, 0.5, textwrap.fill(message, 100), ha="center", va="center",
             fontsize="small", color="firebrick")
    return fig


def unless_failed(plot: Callable[..., Figure]) -> Callable[..., Figure]:
    """Decorate a figure function of results so a failed experiment gives failure_figure instead."""
    @functools.wraps(plot)
    def wrapper(res: dict, *args, **kwargs) -> Figure:
        message = failure(res)
        return plot(res, *args, **kwargs) if message is None else failure_figure(message)
    return wrapper


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
    """Plot the mean over runs as a line and, with several runs, a band from their min to max.

    A min-max band stays positive, so it reads on a log axis, where mean - std
    of losses that span decades goes below zero.
    """
    values = np.asarray(runs, dtype=float)
    mean = values.mean(axis=0)
    (line,) = ax.plot(x, mean, label=label, **kwargs)
    if len(values) > 1:
        ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=line.get_color(),
                        alpha=0.2, linewidth=0)


def seeds_note(n_seeds: int) -> str:
    """Return the legend title that describes what a line and its band show over `n_seeds` runs."""
    return f"mean, band min to max over {n_seeds} seeds" if n_seeds > 1 else "one seed"


def scale_y(ax, values, ylabel: str) -> None:
    """Label the y axis, on a log scale when the positive values span a decade or more."""
    flat = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values])
    flat = flat[np.isfinite(flat) & (flat > 0)]
    use_log = flat.size > 0 and flat.max() / flat.min() >= 10
    ax.set_yscale("log" if use_log else "linear")
    ax.set_ylabel(f"{ylabel}, log scale" if use_log else ylabel)


def legend_outside(ax, title: str | None = None) -> None:
    """Put the axes' legend to the right of the plot, so it never hides the data."""
    ax.legend(title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


@unless_failed
def sim_loss_curves(sim: dict, function: str, title: str) -> Figure:
    """Plot training MSE vs epoch of each simulated-function model, mean and spread over seeds."""
    fig, ax = plt.subplots(figsize=FIGSIZE)
    for name, model in sim["models"].items():
        fit = model[function]
        mean_band(ax, fit["epoch"], fit["train_loss"], label=f"{name} ({model['n_params']} params)")
    losses = [model[function]["train_loss"] for model in sim["models"].values()]
    scale_y(ax, losses, "training loss (MSE)")
    ax.set(xlabel="epoch (full batch)", title=title)
    legend_outside(ax, seeds_note(len(sim["seeds"])))
    return fig


@unless_failed
def sim_predictions(sim: dict, function: str, title: str) -> Figure:
    """Plot each model's prediction (mean and spread over seeds) against the ground truth."""
    fig, ax = plt.subplots(figsize=FIGSIZE)
    target = sim["summary"]["targets"][function]
    ax.plot(target["x"], target["y"], color="black", linewidth=2.5, label="ground truth")
    for name, model in sim["models"].items():
        mean_band(ax, target["x"], model[function]["prediction"],
                  label=f"{name} ({model['n_params']} params)")
    ax.set(xlabel="x", ylabel=f"{function}(x) and predictions", title=title)
    legend_outside(ax, seeds_note(len(sim["seeds"])))
    return fig


@unless_failed
def mnist_curves(mnist: dict, names: Sequence[str], title: str) -> Figure:
    """Plot train (solid) and test (dashed) loss and accuracy vs epoch of the named models."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=WIDE_FIGSIZE)
    palette = sns.color_palette(n_colors=len(names))
    for color, name in zip(palette, names):
        history = mnist["models"][name]["history"]
        for split, style in (("train", "-"), ("test", "--")):
            ax_loss.plot(history["epoch"], history[f"{split}_loss"], style, color=color)
            ax_acc.plot(history["epoch"], np.asarray(history[f"{split}_acc"]) * 100, style, color=color)
    losses = [mnist["models"][n]["history"][f"{split}_loss"]
              for n in names for split in ("train", "test")]
    scale_y(ax_loss, losses, "cross-entropy loss")
    ax_loss.set(xlabel="epoch", title=f"{title}: loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}: accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    # one legend for both panels: colour is the model, line style the split
    handles = [Line2D([], [], color=c, label=f"{n} ({mnist['models'][n]['n_params']:,} params)")
               for c, n in zip(palette, names)]
    handles += [Line2D([], [], color="0.3", linestyle=s, label=label)
                for s, label in (("-", "train set"), ("--", "test set"))]
    fig.legend(handles=handles, loc="outside right upper")
    return fig


# Part 3: generalization

SPLIT_STYLES = (("train", "-"), ("test", "--"))


@unless_failed
def random_labels_curves(rl: dict, title: str) -> Figure:
    """Plot train and test loss (log y) and accuracy vs epoch of the random-labels run."""
    history = rl["models"]["random-labels-mlp"]["history"]
    level = rl["settings"]["memorized_acc"] * 100
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=WIDE_FIGSIZE)
    for split, style in SPLIT_STYLES:
        label = "train (permuted labels)" if split == "train" else "test (true labels)"
        ax_loss.plot(history["epoch"], history[f"{split}_loss"], style, label=label)
        ax_acc.plot(history["epoch"], np.asarray(history[f"{split}_acc"]) * 100, style, label=label)
    ax_acc.axhline(10, color="0.5", linewidth=1, linestyle=":", label="chance (10%)")
    ax_acc.axhline(level, color="firebrick", linewidth=1, linestyle=":", label=f"{level:.0f}%")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (log scale)", yscale="log",
                title=f"{title}: loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}: accuracy")
    legend_outside(ax_acc)
    return fig


@unless_failed
def param_count_curves(pc: dict) -> Figure:
    """Plot final train/test loss, accuracy and the generalization gap vs parameter count (log x)."""
    models = list(pc["models"].values())
    n_params = [m["n_params"] for m in models]
    fig, (ax_loss, ax_acc, ax_gap) = plt.subplots(1, 3, figsize=(13, 4.2))
    for split, style in SPLIT_STYLES:
        ax_loss.plot(n_params, [m[f"{split}_loss"] for m in models], f"o{style}", label=split)
        ax_acc.plot(n_params, [m[f"{split}_acc"] * 100 for m in models], f"o{style}", label=split)
    ax_gap.plot(n_params, [m["gap"] for m in models], "o-", color="firebrick")
    ax_gap.axhline(0, color="0.5", linewidth=1)
    ax_loss.set(xscale="log", xlabel="parameters (log scale)", ylabel="cross-entropy loss",
                title="loss")
    ax_acc.set(xscale="log", xlabel="parameters (log scale)", ylabel="accuracy (%)",
               title="accuracy")
    ax_gap.set(xscale="log", xlabel="parameters (log scale)", ylabel="test loss − train loss",
               title="generalization gap")
    ax_acc.legend()
    return fig


@unless_failed
def interpolation_curves(interp: dict, pair: str, title: str) -> Figure:
    """Plot train/test cross-entropy (log y) and accuracy vs α, with α=0 and α=1 marked."""
    curve = interp["models"][pair]["curve"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=WIDE_FIGSIZE)
    for split, style in SPLIT_STYLES:
        ax_loss.plot(curve["alpha"], curve[f"{split}_loss"], style, label=split)
        ax_acc.plot(curve["alpha"], np.asarray(curve[f"{split}_acc"]) * 100, style, label=split)
    for ax in (ax_loss, ax_acc):
        for alpha, name in ((0, "θ1"), (1, "θ2")):
            ax.axvline(alpha, color="0.4", linewidth=1, linestyle=":")
            ax.annotate(name, (alpha, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -12), textcoords="offset points")
    ax_loss.set(xlabel="α", ylabel="cross-entropy loss (log scale)", yscale="log",
                title=f"{title}: loss")
    ax_acc.set(xlabel="α", ylabel="accuracy (%)", title=f"{title}: accuracy")
    ax_acc.legend()
    return fig


@unless_failed
def sensitivity_curves(sens: dict, key: str, title: str) -> Figure:
    """Plot loss and accuracy (left axes) and sensitivity (right axes) vs batch size (log x)."""
    sweep = sens["models"][key]
    sizes = sweep["batch_size"]
    fig, axes = plt.subplots(1, 2, figsize=WIDE_FIGSIZE)
    for ax, metric, label in ((axes[0], "loss", "cross-entropy loss"), (axes[1], "acc", "accuracy (%)")):
        scale = 100 if metric == "acc" else 1
        for split, style in SPLIT_STYLES:
            ax.plot(sizes, np.asarray(sweep[f"{split}_{metric}"]) * scale, f"o{style}", label=split)
        twin = ax.twinx()
        twin.plot(sizes, sweep["sensitivity"], "s-", color="firebrick", label="sensitivity")
        twin.set_ylabel("sensitivity (RMS ‖∂loss/∂x‖)", color="firebrick")
        twin.grid(False)
        ax.set(xscale="log", xlabel="batch size (log scale)", ylabel=label,
               title=f"{title}: {label.split(' (')[0]}")
        lines = ax.get_lines() + twin.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], fontsize="small")
    return fig


@unless_failed
def pca_paths(pca: dict, key: str, title: str) -> Figure:
    """Plot each run's 2-D PCA path (one color per run), points annotated with test accuracy."""
    summary = pca["summary"]
    coords = np.asarray(summary[key]["coords"])
    ratio = summary[key]["explained_variance_ratio"]
    test_acc = np.asarray(summary["test_acc"])
    fig, ax = plt.subplots(figsize=(8.5, 6))
    for run, (path, color) in enumerate(zip(coords, sns.color_palette("tab10", len(coords)))):
        ax.plot(path[:, 0], path[:, 1], "o-", color=color, markersize=4, linewidth=1,
                label=f"seed {pca['seeds'][run]}")
        ax.plot(*path[0], "x", color=color, markersize=8)
        for (x, y), acc in zip(path, test_acc[run]):
            ax.annotate(f"{acc:.0%}", (x, y), xytext=(2, 2), textcoords="offset points",
                        fontsize=6, color=color)
    ax.set(xlabel=f"PC1 ({ratio[0]:.1%} of variance)", ylabel=f"PC2 ({ratio[1]:.1%} of variance)",
           title=title)
    legend_outside(ax, title="run (x: initialization)")
    return fig


@unless_failed
def grad_norm_curves(gn: dict, name: str, title: str) -> Figure:
    """Plot grad norm and loss against step on shared x axes (log y), spikes marked."""
    run, spikes = gn["models"][name], gn["summary"][name]["spikes"]
    steps = np.arange(1, len(run["loss"]) + 1)
    fig, (ax_norm, ax_loss) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    ax_norm.plot(steps, run["grad_norm"], linewidth=0.6)
    ax_loss.plot(steps, run["loss"], linewidth=0.6, color="C1")
    for step in spikes:
        for ax in (ax_norm, ax_loss):
            ax.axvline(step + 1, color="firebrick", linewidth=0.8, alpha=0.5, linestyle=":")
    ax_norm.set(ylabel="grad norm (log scale)", yscale="log",
                title=f"{title}: {len(spikes)} spike{'s' if len(spikes) != 1 else ''} marked")
    ax_loss.set(xlabel="iteration (optimizer step)", ylabel="loss (log scale)", yscale="log")
    return fig


@unless_failed
def minimal_ratio_scatter(ratio: dict, tol: float) -> Figure:
    """Plot minimal ratio against final loss, runs that missed the gradient tolerance marked apart."""
    run = ratio["models"]["sim-1"]
    loss, minimal = np.asarray(run["train_loss"]), np.asarray(run["minimal_ratio"])
    converged = np.asarray(run["converged"], dtype=bool)
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.scatter(loss[converged], minimal[converged], label=f"grad norm < {tol:g} ({converged.sum()})")
    ax.scatter(loss[~converged], minimal[~converged], marker="x", color="C3",
               label=f"step limit reached ({(~converged).sum()})")
    ax.set(xlabel="final training loss (MSE, log scale)", xscale="log", ylabel="minimal ratio",
           title="Minimal ratio against loss at near-zero gradient")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())  # minor labels overlap on a narrow range
    legend_outside(ax)
    return fig


@unless_failed
def eigenvalue_spectrum(ratio: dict, run: int, tol: float) -> Figure:
    """Plot one run's sorted Hessian eigenvalues (symlog y) with the tolerance lines."""
    eigenvalues = np.sort(ratio["models"]["sim-1"]["eigenvalues"][run])
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot(np.arange(1, len(eigenvalues) + 1), eigenvalues, ".", markersize=3)
    for level in (tol, -tol):
        ax.axhline(level, color="firebrick", linewidth=0.8, linestyle="--")
    ax.set(xlabel="eigenvalue index (ascending)", ylabel="eigenvalue (symlog)",
           title=f"Hessian eigenvalues of run {run} (dashed: ±{tol:g})")
    ax.set_yscale("symlog", linthresh=tol)
    return fig
