"""Part 3, generalization: experiments random-labels (3.1), param-count (3.2),
interpolation (3.3.1) and sensitivity (3.3.2).

Each `train_*_run` function trains one model and returns plain data, so
`cache.cached_call` can store it. Each `run_*` function runs an experiment,
writes its results file and returns the results.
"""

import random
import types
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hwlib import cache, data, flatness, results, train
from hwlib.models import PARAM_CNN_WIDTHS, build_model, count_parameters

CHANCE_ACC = 0.1
FLAT_MODEL = "flat-cnn"
SENSITIVITY_MODEL = "sensitivity-cnn"


def final_metrics(history: dict[str, list]) -> dict[str, float]:
    """Return the last evaluated train/test loss and accuracy of a `train.fit` history."""
    return {key: history[key][-1] for key in ("train_loss", "train_acc", "test_loss", "test_acc")}


def rank_correlation(x: list[float], y: list[float]) -> float:
    """Return Spearman's rank correlation of x and y (NaN with fewer than 3 points)."""
    if len(x) < 3:
        return float("nan")
    # ranks by double argsort; ties between measured losses are not expected
    ranks_x = np.argsort(np.argsort(x)).astype(float)
    ranks_y = np.argsort(np.argsort(y)).astype(float)
    return float(np.corrcoef(ranks_x, ranks_y)[0, 1])


def format_rho(value: float | None) -> str:
    """Return a rank correlation as text; NaN (or None once stored) means too few points."""
    if value is None or value != value:
        return "n/a (fewer than 3 points)"
    return f"{value:.2f}"


# 3.1 random labels

def shuffle_like_reference(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """Return the labels after Python's random.shuffle on the tensor, as the reference code did.

    Swapping two elements of a tensor through views copies one value over the
    other, so labels get duplicated and others lost.
    """
    shuffled = labels.clone()
    random.Random(seed).shuffle(shuffled)
    return shuffled


def label_histograms(labels: torch.Tensor, seed: int) -> dict[str, list[int]]:
    """Return the class counts of the true, permuted and reference-shuffled labels."""
    return {
        "true": torch.bincount(labels, minlength=10).tolist(),
        "randperm": torch.bincount(data.random_labels(labels, seed), minlength=10).tolist(),
        "random.shuffle": torch.bincount(shuffle_like_reference(labels, seed), minlength=10).tolist(),
    }


@results.unless_failed(fallback=results.failure_rows)
def label_histogram_rows(rl: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one row per labelling (true, randperm, random.shuffle): its count of each class."""
    rows = []
    for method, counts in rl["summary"]["label_histograms"].items():
        true = rl["summary"]["label_histograms"]["true"]
        changed = sum(abs(c - t) for c, t in zip(counts, true)) // 2
        rows.append({"labels": method, **{str(k): c for k, c in enumerate(counts)},
                     "labels moved to another class": changed})
    return rows


def train_random_labels_run(seed: int, epochs: int, lr: float, batch_size: int,
                            train_size: int | None, test_size: int | None,
                            device: str) -> dict[str, Any]:
    """Train random-labels-mlp on permuted training labels; return its per-epoch history."""
    train.seed_everything(seed)
    train_split, test_split = data.mnist_splits(train_size, test_size, seed, device)
    permuted = data.Split(train_split.x, data.random_labels(train_split.y, seed))
    model = build_model("random-labels-mlp").to(device)
    history = train.fit(model, permuted, test_split, epochs=epochs, lr=lr, batch_size=batch_size,
                        seed=seed, name="random-labels-mlp")
    changed = (permuted.y != train_split.y).float().mean().item()
    return {"history": history, "final": final_metrics(history), "labels_changed": changed}


def first_epoch_above(history: dict[str, list], key: str, level: float) -> int | None:
    """Return the first evaluated epoch where history[key] >= level, or None if it never does."""
    for epoch, value in zip(history["epoch"], history[key]):
        if value >= level:
            return epoch
    return None


def run_random_labels(p: types.SimpleNamespace, device: torch.device) -> dict[str, Any]:
    """Train on randomly permuted labels; write and return the random-labels results."""
    settings = {
        "epochs": p.random_epochs, "lr": p.random_lr, "batch_size": p.random_batch_size,
        "train_size": p.random_train_size or data.N_TRAIN,
        "test_size": p.random_test_size or data.N_TEST, "optimizer": "Adam",
        "labels": "training labels permuted with torch.randperm; test labels true",
        "memorized_acc": p.memorized_acc,
    }
    with results.experiment("random-labels", p.profile, settings, [p.seed], str(device),
                            p.results_dir or None) as exp:
        run = cache.cached_call(
            cache.cache_dir(p), train_random_labels_run, seed=p.seed, epochs=p.random_epochs,
            lr=p.random_lr, batch_size=p.random_batch_size, train_size=p.random_train_size,
            test_size=p.random_test_size, device=str(device))
        exp.models["random-labels-mlp"] = {
            "n_params": count_parameters(build_model("random-labels-mlp")), **run}
        labels = data.mnist_splits(p.random_train_size, None, p.seed, "cpu")[0].y
        exp.summary["label_histograms"] = label_histograms(labels, p.seed)
        exp.summary["memorized_epoch"] = first_epoch_above(run["history"], "train_acc", p.memorized_acc)
        exp.summary["headline"] = random_labels_headline(run, exp.summary["memorized_epoch"],
                                                         p.memorized_acc)
    return results.to_jsonable(exp.as_dict())


def random_labels_headline(run: dict[str, Any], memorized_epoch: int | None,
                           level: float) -> dict[str, str]:
    """Return the index row of random-labels, computed from the run."""
    final = run["final"]
    near_chance = abs(final["test_acc"] - CHANCE_ACC) < 0.05
    reached = f"epoch {memorized_epoch}" if memorized_epoch else "never"
    result = (f"train acc {final['train_acc']:.1%} (≥{level:.0%} from {reached}), "
              f"test acc {final['test_acc']:.1%}, test loss {final['test_loss']:.3g}")
    if memorized_epoch and near_chance:
        verdict = (f"reproduced: the labels were memorized by epoch {memorized_epoch} while test "
                   f"accuracy stayed near chance ({final['test_acc']:.1%} vs 10%)")
    else:
        verdict = (f"differs: train acc reached {final['train_acc']:.1%} and test acc "
                   f"{final['test_acc']:.1%}, so memorization or chance-level test accuracy is missing")
    return results.headline(
        question="Can an MLP fit randomly permuted training labels, and does it generalize?",
        result=result,
        reference="training loss fell to convergence; test loss rose and test accuracy fell",
        verdict=verdict,
    )


@results.unless_failed
def random_labels_verdict(rl: dict[str, Any]) -> str:
    """Return a one-line verdict on memorization and test accuracy, computed from the results."""
    history = rl["models"]["random-labels-mlp"]["history"]
    epoch = rl["summary"]["memorized_epoch"]
    level = rl["settings"]["memorized_acc"]
    reached = (f"passed {level:.0%} at epoch {epoch}" if epoch
               else f"never reached {level:.0%}")
    low = int(np.argmin(history["test_loss"]))
    return (
        f"Train accuracy on the permuted labels {reached} of {history['epoch'][-1]} and ended at "
        f"{history['train_acc'][-1]:.1%}; test accuracy ended at {history['test_acc'][-1]:.1%} "
        f"(chance is 10%). Test loss was lowest at epoch {history['epoch'][low]} "
        f"({history['test_loss'][low]:.3g}) and ended at {history['test_loss'][-1]:.3g}."
    )


# 3.2 number of parameters vs generalization

def train_param_count_run(model_name: str, seed: int, epochs: int, lr: float, batch_size: int,
                          train_size: int | None, test_size: int | None,
                          device: str) -> dict[str, float]:
    """Train one param-cnn model; return its final train/test loss and accuracy."""
    train.seed_everything(seed)
    train_split, test_split = data.mnist_splits(train_size, test_size, seed, device)
    model = build_model(model_name).to(device)
    history = train.fit(model, train_split, test_split, epochs=epochs, lr=lr,
                        batch_size=batch_size, seed=seed, name=model_name, eval_every=epochs)
    return final_metrics(history)


def param_model_names(numbers: list[int]) -> list[str]:
    """Return the param-cnn names for model numbers 1..13; raise ValueError on any other."""
    bad = [n for n in numbers if not 1 <= n <= len(PARAM_CNN_WIDTHS)]
    if bad:
        raise ValueError(f"invalid param_models {bad}: the param-cnn models are numbered "
                         f"1 to {len(PARAM_CNN_WIDTHS)}")
    return [f"param-cnn-{n:02d}" for n in sorted(set(numbers))]


def run_param_count(p: types.SimpleNamespace, device: torch.device) -> dict[str, Any]:
    """Train the chosen param-cnn models; write and return the param-count results."""
    names = param_model_names(p.param_models)
    settings = {
        "models": names, "epochs": p.param_epochs, "lr": p.param_lr,
        "batch_size": p.param_batch_size, "train_size": p.param_train_size or data.N_TRAIN,
        "test_size": p.param_test_size or data.N_TEST, "optimizer": "Adam",
    }
    with results.experiment("param-count", p.profile, settings, [p.seed], str(device),
                            p.results_dir or None) as exp:
        for name in names:
            final = cache.cached_call(
                cache.cache_dir(p), train_param_count_run, model_name=name, seed=p.seed,
                epochs=p.param_epochs, lr=p.param_lr, batch_size=p.param_batch_size,
                train_size=p.param_train_size, test_size=p.param_test_size, device=str(device))
            gap = final["test_loss"] - final["train_loss"]
            exp.models[name] = {"n_params": count_parameters(build_model(name)), **final, "gap": gap}
        exp.summary.update(param_count_summary(exp.models))
        exp.summary["headline"] = param_count_headline(exp.models, exp.summary)
    return results.to_jsonable(exp.as_dict())


def param_count_summary(models: dict[str, Any]) -> dict[str, Any]:
    """Return the best test model, the lowest test loss and rank correlations with n_params."""
    n_params = [m["n_params"] for m in models.values()]
    return {
        "best_test_acc": max(models, key=lambda n: models[n]["test_acc"]),
        "lowest_test_loss": min(models, key=lambda n: models[n]["test_loss"]),
        "rho_train_loss": rank_correlation(n_params, [m["train_loss"] for m in models.values()]),
        "rho_test_loss": rank_correlation(n_params, [m["test_loss"] for m in models.values()]),
        "rho_gap": rank_correlation(n_params, [m["gap"] for m in models.values()]),
    }


def param_count_headline(models: dict[str, Any], summary: dict[str, Any]) -> dict[str, str]:
    """Return the index row of param-count, computed from the run."""
    names = list(models)
    smallest, largest = models[names[0]], models[names[-1]]
    best = summary["lowest_test_loss"]
    result = (f"train loss {smallest['train_loss']:.3g} → {largest['train_loss']:.3g} and gap "
              f"{smallest['gap']:+.3f} → {largest['gap']:+.3f} from {smallest['n_params']:,} to "
              f"{largest['n_params']:,} params; lowest test loss {best}")
    gap_grows = summary["rho_gap"] > 0
    test_turns_up = best != names[-1]
    if gap_grows and test_turns_up:
        verdict = (f"reproduced: the gap grows with size (Spearman ρ = {format_rho(summary['rho_gap'])}) "
                   f"and test loss is lowest at {best}, not the largest model")
    else:
        verdict = (f"differs: gap vs size ρ = {format_rho(summary['rho_gap'])}, lowest test loss at {best}; "
                   "no clear overfitting of the larger models")
    return results.headline(
        question="How do train and test loss change with the number of parameters?",
        result=result,
        reference="loss falls and accuracy rises with size; larger models overfit (test loss rises)",
        verdict=verdict,
    )


@results.unless_failed
def param_count_verdict(pc: dict[str, Any]) -> str:
    """Return a one-line verdict on size vs generalization, computed from the results."""
    models, summary = pc["models"], pc["summary"]
    best = summary["best_test_acc"]
    return (
        f"{best} ({models[best]['n_params']:,} parameters) reached the highest test accuracy, "
        f"{models[best]['test_acc']:.2%}; {summary['lowest_test_loss']} the lowest test loss. "
        f"Rank correlation with the parameter count: train loss ρ = {format_rho(summary['rho_train_loss'])}, "
        f"test loss ρ = {format_rho(summary['rho_test_loss'])}, gap (test − train loss) "
        f"ρ = {format_rho(summary['rho_gap'])}."
    )


# 3.3.1 flatness: linear interpolation

def train_flat_run(batch_size: int, lr: float, seed: int, epochs: int,
                   train_size: int | None, device: str) -> dict[str, Any]:
    """Train flat-cnn with one batch size and learning rate; return its weights on the CPU."""
    train.seed_everything(seed)
    train_split = data.load_mnist(True, device).subset(train_size, seed)
    model = build_model(FLAT_MODEL).to(device)
    history = train.fit(model, train_split, epochs=epochs, lr=lr, batch_size=batch_size,
                        seed=seed, name=f"{FLAT_MODEL} batch {batch_size} lr {lr:g}",
                        eval_every=epochs)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"state": state, "train_loss": history["train_loss"][-1], "steps": history["steps"]}


def flat_pairs(p: types.SimpleNamespace) -> dict[str, tuple[dict, dict]]:
    """Return the two interpolation pairs as (θ1 settings, θ2 settings)."""
    return {
        "batch": ({"batch_size": p.flat_small_batch, "lr": p.flat_lr},
                  {"batch_size": p.flat_large_batch, "lr": p.flat_lr}),
        "lr": ({"batch_size": p.flat_batch_size, "lr": p.flat_lr},
               {"batch_size": p.flat_batch_size, "lr": p.flat_high_lr}),
    }


def endpoint_check(state1: dict, state2: dict, curve: dict[str, list[float]],
                   splits: dict[str, data.Split]) -> dict[str, Any]:
    """Compare the curve at α=0 and α=1 with the two trained models evaluated directly."""
    model = build_model(FLAT_MODEL).to(next(iter(splits.values())).y.device)
    check: dict[str, Any] = {}
    for alpha, state in ((0.0, state1), (1.0, state2)):
        model.load_state_dict(state)
        i = curve["alpha"].index(alpha)
        for name, split in splits.items():
            direct = train.evaluate(model, split)
            check[f"alpha={alpha:g} {name}"] = {
                "model_loss": direct["loss"], "curve_loss": curve[f"{name}_loss"][i],
                "model_acc": direct["acc"], "curve_acc": curve[f"{name}_acc"][i]}
    check["exact"] = all(v["model_loss"] == v["curve_loss"] and v["model_acc"] == v["curve_acc"]
                         for v in check.values())
    return check


def interpolate_pair(p: types.SimpleNamespace, settings: tuple[dict, dict],
                     splits: dict[str, data.Split], device: torch.device) -> dict[str, Any]:
    """Train the two models of a pair and evaluate the straight line between them."""
    runs = [cache.cached_call(cache.cache_dir(p), train_flat_run, seed=p.seed, epochs=p.flat_epochs,
                              train_size=p.flat_train_size, device=str(device), **s)
            for s in settings]
    alphas = flatness.alpha_grid(p.alpha_min, p.alpha_max, p.alpha_step)
    model = build_model(FLAT_MODEL).to(device)
    curve = flatness.interpolation_curve(model, runs[0]["state"], runs[1]["state"], alphas, splits)
    return {
        "theta1": settings[0], "theta2": settings[1],
        "steps": [r["steps"] for r in runs], "curve": curve,
        "endpoint_check": endpoint_check(runs[0]["state"], runs[1]["state"], curve, splits),
        "barrier": loss_barrier(curve, "train"),
    }


def loss_barrier(curve: dict[str, list[float]], split: str) -> float:
    """Return the highest loss strictly between α=0 and α=1 minus the higher endpoint loss."""
    alphas, losses = np.asarray(curve["alpha"]), np.asarray(curve[f"{split}_loss"])
    inside = (alphas > 0) & (alphas < 1)
    ends = max(losses[alphas == 0][0], losses[alphas == 1][0])
    return float(losses[inside].max() - ends) if inside.any() else float("nan")


def run_interpolation(p: types.SimpleNamespace, device: torch.device) -> dict[str, Any]:
    """Train both pairs of flat-cnn models and interpolate; write and return the results."""
    settings = {
        "epochs": p.flat_epochs, "train_size": p.flat_train_size or data.N_TRAIN,
        "eval_size": p.flat_eval_size, "alpha_min": p.alpha_min, "alpha_max": p.alpha_max,
        "alpha_step": p.alpha_step, "optimizer": "Adam",
        "formula": "theta(alpha) = (1 - alpha) * theta1 + alpha * theta2, no retraining",
    }
    with results.experiment("interpolation", p.profile, settings, [p.seed], str(device),
                            p.results_dir or None) as exp:
        train_split = data.load_mnist(True, device).subset(p.flat_train_size, p.seed)
        splits = {"train": train_split.subset(p.flat_eval_size, p.seed + 1),
                  "test": data.load_mnist(False, device).subset(p.flat_eval_size, p.seed)}
        for pair, pair_settings in flat_pairs(p).items():
            exp.models[pair] = interpolate_pair(p, pair_settings, splits, device)
        exp.summary["n_params"] = count_parameters(build_model(FLAT_MODEL))
        exp.summary["endpoints_exact"] = all(m["endpoint_check"]["exact"] for m in exp.models.values())
        exp.summary["headline"] = interpolation_headline(exp.models)
    return results.to_jsonable(exp.as_dict())


def interpolation_headline(models: dict[str, Any]) -> dict[str, str]:
    """Return the index row of interpolation, computed from the run."""
    barriers = {pair: m["barrier"] for pair, m in models.items()}
    result = "; ".join(f"{pair} pair: train-loss barrier {b:+.3g}" for pair, b in barriers.items())
    if all(b > 0 for b in barriers.values()):
        verdict = ("reproduced: the loss rises between the two minima in both pairs "
                   f"(barriers {', '.join(f'{b:.3g}' for b in barriers.values())})")
    else:
        flat = [pair for pair, b in barriers.items() if b <= 0]
        verdict = (f"differs: no loss barrier between the minima of the {', '.join(flat)} pair, "
                   "unlike the reference's dip, which it measured after retraining each θ(α)")
    return results.headline(
        question="What lies on the straight line between two trained minima?",
        result=result,
        reference=("accuracy dips between α≈0.4 and 0.8 and falls beyond α≈1.3-1.6 "
                   "(each θ(α) retrained for an epoch)"),
        verdict=verdict,
    )


@results.unless_failed
def interpolation_verdict(interp: dict[str, Any], pair: str) -> str:
    """Return a one-line verdict on one interpolation pair, computed from the results."""
    m = interp["models"][pair]
    curve = m["curve"]
    alphas = np.asarray(curve["alpha"])
    test_acc = np.asarray(curve["test_acc"])
    inside = (alphas >= 0) & (alphas <= 1)
    worst = int(np.flatnonzero(inside)[np.argmin(test_acc[inside])])
    ends = [test_acc[alphas == a][0] for a in (0.0, 1.0)]
    return (
        f"θ1 test acc {ends[0]:.1%}, θ2 {ends[1]:.1%}; between them the test accuracy is lowest "
        f"at α={alphas[worst]:.2f} ({test_acc[worst]:.1%}), and the train-loss barrier is "
        f"{m['barrier']:+.3g}. At α={alphas[0]:g} test acc is {test_acc[0]:.1%}, at "
        f"α={alphas[-1]:g} {test_acc[-1]:.1%}."
    )


@results.unless_failed(fallback=results.failure_rows)
def endpoint_rows(interp: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one row per pair, endpoint and split: direct metrics beside the curve's."""
    rows = []
    for pair, m in interp["models"].items():
        for key, v in m["endpoint_check"].items():
            if key == "exact":
                continue
            equal = v["model_loss"] == v["curve_loss"] and v["model_acc"] == v["curve_acc"]
            rows.append({"pair": pair, "point": key,
                         "model loss": f"{v['model_loss']:.6g}", "curve loss": f"{v['curve_loss']:.6g}",
                         "model acc": f"{v['model_acc']:.2%}", "curve acc": f"{v['curve_acc']:.2%}",
                         "equal (exact float comparison)": equal})
    return rows


@results.unless_failed
def endpoint_check_line(interp: dict[str, Any]) -> str:
    """Return the printed result of the α=0 and α=1 check."""
    if interp["summary"]["endpoints_exact"]:
        return ("check passed: at α=0 and α=1 the curve equals the trained models' loss and "
                "accuracy exactly, on both splits and both pairs")
    return "check FAILED: the curve's endpoints differ from the trained models (see the table)"


# 3.3.2 flatness: sensitivity

def train_steps(model: torch.nn.Module, split: data.Split, steps: int, lr: float,
                batch_size: int, seed: int) -> None:
    """Train `model` with Adam for exactly `steps` optimizer steps of shuffled minibatches."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = train.make_optimizer(model.parameters(), lr)
    model.train()
    done = 0
    while done < steps:
        order = torch.randperm(len(split), generator=generator).to(split.y.device)
        for start in range(0, len(split), batch_size):
            index = order[start:start + batch_size]
            loss = F.cross_entropy(model(split.x[index]), split.y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                return


def train_sensitivity_run(batch_size: int, seed: int, epochs: int, steps: int | None, lr: float,
                          train_size: int | None, test_size: int | None,
                          device: str) -> dict[str, Any]:
    """Train sensitivity-cnn with one batch size; return its final metrics and sensitivity.

    With `steps` set, training runs that many optimizer steps instead of `epochs` passes.
    """
    train.seed_everything(seed)
    train_split, test_split = data.mnist_splits(train_size, test_size, seed, device)
    model = build_model(SENSITIVITY_MODEL).to(device)
    if steps is None:
        history = train.fit(model, train_split, test_split, epochs=epochs, lr=lr,
                            batch_size=batch_size, seed=seed, eval_every=epochs,
                            name=f"{SENSITIVITY_MODEL} batch {batch_size}")
        metrics, steps = final_metrics(history), history["steps"]
    else:
        train_steps(model, train_split, steps, lr, batch_size, seed)
        metrics = {f"train_{k}": v for k, v in train.evaluate(model, train_split).items()}
        metrics.update({f"test_{k}": v for k, v in train.evaluate(model, test_split).items()})
    return {**metrics, "sensitivity": flatness.sensitivity(model, test_split), "steps": steps}


def sensitivity_sweep(p: types.SimpleNamespace, device: torch.device,
                      steps: int | None) -> dict[str, Any]:
    """Train one model per batch size (fixed epochs, or `steps` steps each); return the sweep."""
    sweep: dict[str, list] = {"batch_size": list(p.sens_batch_sizes)}
    for batch_size in p.sens_batch_sizes:
        run = cache.cached_call(
            cache.cache_dir(p), train_sensitivity_run, batch_size=batch_size, seed=p.seed,
            epochs=p.sens_epochs, steps=steps, lr=p.sens_lr, train_size=p.sens_train_size,
            test_size=p.sens_test_size, device=str(device))
        for key, value in run.items():
            sweep.setdefault(key, []).append(value)
    sweep["rho_sensitivity"] = rank_correlation(sweep["batch_size"], sweep["sensitivity"])
    sweep["rho_test_loss"] = rank_correlation(sweep["batch_size"], sweep["test_loss"])
    return sweep


def run_sensitivity(p: types.SimpleNamespace, device: torch.device) -> dict[str, Any]:
    """Train sensitivity-cnn for every batch size; write and return the sensitivity results."""
    settings = {
        "batch_sizes": p.sens_batch_sizes, "epochs": p.sens_epochs, "lr": p.sens_lr,
        "equal_steps": p.equal_steps, "train_size": p.sens_train_size or data.N_TRAIN,
        "test_size": p.sens_test_size or data.N_TEST, "optimizer": "Adam",
        "sensitivity": "RMS over the test set of the Frobenius norm of d loss_i / d x_i",
    }
    with results.experiment("sensitivity", p.profile, settings, [p.seed], str(device),
                            p.results_dir or None) as exp:
        exp.models["fixed_epochs"] = sensitivity_sweep(p, device, None)
        if p.equal_steps:
            exp.models["equal_steps"] = sensitivity_sweep(p, device, p.equal_steps)
        exp.summary["n_params"] = count_parameters(build_model(SENSITIVITY_MODEL))
        exp.summary["headline"] = sensitivity_headline(exp.models)
    return results.to_jsonable(exp.as_dict())


def sensitivity_headline(models: dict[str, Any]) -> dict[str, str]:
    """Return the index row of sensitivity, computed from the fixed-epoch sweep."""
    sweep = models["fixed_epochs"]
    rho = sweep["rho_sensitivity"]
    result = (f"sensitivity {sweep['sensitivity'][0]:.3g} at batch {sweep['batch_size'][0]} → "
              f"{sweep['sensitivity'][-1]:.3g} at batch {sweep['batch_size'][-1]} "
              f"(ρ = {format_rho(rho)}); test loss ρ = {format_rho(sweep['rho_test_loss'])}")
    if "equal_steps" in models:
        result += f"; equal steps: sensitivity ρ = {format_rho(models['equal_steps']['rho_sensitivity'])}"
    if rho < 0:
        verdict = f"reproduced: sensitivity falls as the batch grows (ρ = {format_rho(rho)})"
    else:
        verdict = (f"differs: sensitivity does not fall with batch size (ρ = {format_rho(rho)}); the "
                   "reference measured parameter gradients during training, not input gradients")
    return results.headline(
        question="How do loss, accuracy and input sensitivity change with the batch size?",
        result=result,
        reference="loss rises and accuracy falls with batch size; sensitivity falls",
        verdict=verdict,
    )


@results.unless_failed
def sensitivity_verdict(sens: dict[str, Any], key: str) -> str:
    """Return a one-line verdict on one sweep ("fixed_epochs" or "equal_steps")."""
    sweep = sens["models"][key]
    sizes, values = sweep["batch_size"], sweep["sensitivity"]
    high, low = int(np.argmax(values)), int(np.argmin(values))
    return (
        f"Sensitivity is highest at batch {sizes[high]} ({values[high]:.3g}) and lowest at batch "
        f"{sizes[low]} ({values[low]:.3g}); rank correlation with batch size ρ = "
        f"{format_rho(sweep['rho_sensitivity'])}. Test loss goes from {sweep['test_loss'][0]:.3g} to "
        f"{sweep['test_loss'][-1]:.3g} (ρ = {format_rho(sweep['rho_test_loss'])}), test accuracy from "
        f"{sweep['test_acc'][0]:.1%} to {sweep['test_acc'][-1]:.1%}, with "
        f"{sweep['steps'][0]} to {sweep['steps'][-1]} optimizer steps."
    )


@results.unless_failed
def equal_steps_comparison(sens: dict[str, Any]) -> str:
    """Return what changes between the fixed-epoch and the equal-steps sweeps."""
    fixed, equal = sens["models"]["fixed_epochs"], sens["models"]["equal_steps"]
    spread = {k: max(s["test_acc"]) - min(s["test_acc"]) for k, s in
              (("fixed", fixed), ("equal", equal))}
    return (
        f"With {equal['steps'][0]} steps for every batch size, the sensitivity's rank correlation "
        f"with batch size is {format_rho(equal['rho_sensitivity'])} (fixed epochs: "
        f"{format_rho(fixed['rho_sensitivity'])}) and the test accuracy spread across batch sizes is "
        f"{spread['equal'] * 100:.1f} points (fixed epochs: {spread['fixed'] * 100:.1f})."
    )


def headline_rows(experiments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one row per experiment: id, question, result, reference and verdict."""
    rows = []
    for res in experiments:
        headline = res.get("summary", {}).get("headline")
        if headline is None:
            rows.append({"experiment": res["id"], "question": "", "result": results.failure(res),
                         "reference": "", "verdict": ""})
        else:
            rows.append({"experiment": res["id"], **headline})
    return rows
