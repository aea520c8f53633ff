"""Time E seeds of one MLP trained one by one with `fit` and together with hwlib.ensemble.

Two cases from the homework: 8 seeds of pca-mlp on MNIST (batch 150, as in
Part 2.1) and 8 seeds of sim-1 on f1 (full batch, as in Parts 1.1 and 2.3).
Both ways run in this process, one after the other. Run as `python -m bench.ensemble`.
"""

import time

from bench import machine
from hwlib import data, ensemble, train
from hwlib.models import build_model

SEEDS = list(range(8))
MNIST_SAMPLES = 6000
MNIST_EPOCHS = 2
SIM_EPOCHS = 500


def one_by_one(model_name: str, split, test, **settings) -> float:
    """Return the seconds to train every seed with `fit`, one after the other."""
    started = time.perf_counter()
    for seed in SEEDS:
        train.seed_everything(seed)
        train.fit(build_model(model_name), split, test, seed=seed, name=model_name, **settings)
    return time.perf_counter() - started


def together(model_name: str, fit_fn, split, test, **settings) -> float:
    """Return the seconds to train every seed as one ensemble."""
    started = time.perf_counter()
    members = ensemble.build_ensemble(model_name, SEEDS)
    args = (split, test) if test is not None else (split,)
    fit_fn(members, *args, name=model_name, **settings)
    return time.perf_counter() - started


def main() -> None:
    """Time both cases both ways and record them in bench/results.json."""
    mnist = data.load_mnist(True).subset(MNIST_SAMPLES, 0)
    test = data.load_mnist(False)
    sim = data.simulated("f1")
    mnist_settings = {"epochs": MNIST_EPOCHS, "lr": 1e-3, "batch_size": 150}
    sim_settings = {"epochs": SIM_EPOCHS, "lr": 1e-3}
    figures = {"seeds": len(SEEDS), "cases": {
        f"pca-mlp, {MNIST_SAMPLES:,} images, {MNIST_EPOCHS} epochs": {
            "one_by_one_s": one_by_one("pca-mlp", mnist, test, **mnist_settings),
            "ensemble_s": together("pca-mlp", ensemble.fit_classification, mnist, test,
                                   **mnist_settings)},
        f"sim-1 on f1, {SIM_EPOCHS} full-batch epochs": {
            "one_by_one_s": one_by_one("sim-1", sim, None, task="regression", **sim_settings),
            "ensemble_s": together("sim-1", ensemble.fit_regression, sim, None, **sim_settings)},
    }}
    for name, case in figures["cases"].items():
        case["speedup"] = case["one_by_one_s"] / case["ensemble_s"]
        print(f"{name}: one by one {case['one_by_one_s']:.1f}s, ensemble {case['ensemble_s']:.1f}s, "
              f"{case['speedup']:.1f}x", flush=True)
    machine.record("ensemble", figures, "python -m bench.ensemble")


if __name__ == "__main__":
    main()
