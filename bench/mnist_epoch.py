"""Time one epoch of dnn-3 (batch 64, Adam) through hwlib.train.fit and a common pipeline.

The common pipeline is the tutorial one: torchvision MNIST with ToTensor and
Normalize applied per sample, a DataLoader with batch 64 and shuffling, and
Adam with its defaults. Both run side by side in this process, alternating,
and the best of `--rounds` is kept, so a burst of load from other processes
hurts both the same way. `fit` runs once per thread count in `--threads`. Run as `python -m bench.mnist_epoch`.
"""

import argparse
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from bench import machine
from hwlib import data, train
from hwlib.models import build_model

BATCH_SIZE = 64
LR = 1e-3


def common_epoch(seed: int) -> float:
    """Return the seconds of one epoch of the common per-sample pipeline."""
    torch.manual_seed(seed)
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((data.MNIST_MEAN,), (data.MNIST_STD,))])
    dataset = datasets.MNIST(str(data.DEFAULT_DATA_ROOT), train=True, transform=transform)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True)
    model = build_model("dnn-3")
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)

    started = time.perf_counter()
    for x, y in loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


class TrainClock(train.Callback):
    """Record the seconds from the start of training to the last backward pass."""

    def __init__(self, n_steps: int):
        self.n_steps, self.seconds = n_steps, 0.0

    def on_train_begin(self, model):
        self.started = time.perf_counter()

    def after_backward(self, step, model, loss):
        if step == self.n_steps - 1:
            self.seconds = time.perf_counter() - self.started


def hwlib_epoch(seed: int, train_split, test_split) -> dict[str, float]:
    """Return the seconds of one `fit` epoch: training alone and with its evaluation."""
    train.seed_everything(seed)
    model = build_model("dnn-3")
    clock = TrainClock(-(-len(train_split) // BATCH_SIZE))
    started = time.perf_counter()
    train.fit(model, train_split, test_split, epochs=1, lr=LR, batch_size=BATCH_SIZE,
              seed=seed, callbacks=[clock], name="dnn-3")
    total = time.perf_counter() - started
    return {"train_s": clock.seconds, "epoch_with_eval_s": total, "eval_s": total - clock.seconds}


def measure(rounds: int, threads: list[int]) -> dict:
    """Alternate the common pipeline and `fit` at each thread count; return the best times.

    The common pipeline keeps torch's default thread count.
    """
    default_threads = torch.get_num_threads()
    train_split, test_split = data.load_mnist(True), data.load_mnist(False)
    common, ours = [], {n: [] for n in threads}
    for seed in range(rounds):
        torch.set_num_threads(default_threads)
        common.append(common_epoch(seed))
        print(f"round {seed + 1}: common pipeline {common[-1]:.2f}s", flush=True)
        for n in threads:
            torch.set_num_threads(n)
            ours[n].append(hwlib_epoch(seed, train_split, test_split))
            print(f"round {seed + 1}: fit with {n} thread(s) {ours[n][-1]}", flush=True)
    torch.set_num_threads(default_threads)
    return {"common_s": min(common), "common_threads": default_threads,
            "fit": {n: best_fit(runs, min(common)) for n, runs in ours.items()}}


def best_fit(runs: list[dict[str, float]], common_s: float) -> dict[str, float]:
    """Return the fastest `fit` epoch of `runs` with its speedups over the common pipeline."""
    best = min(runs, key=lambda r: r["epoch_with_eval_s"])
    return {**best, "speedup_train": common_s / best["train_s"],
            "speedup_with_eval": common_s / best["epoch_with_eval_s"],
            "eval_share": best["eval_s"] / best["epoch_with_eval_s"]}


def main() -> None:
    """Run the comparison and record it in bench/results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="side-by-side repetitions")
    parser.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads(), 1],
                        help="torch thread counts for fit (default: torch's default and 1)")
    args = parser.parse_args()
    threads = list(dict.fromkeys(args.threads))
    figures = measure(args.rounds, threads)
    command = f"python -m bench.mnist_epoch --rounds {args.rounds} --threads {' '.join(map(str, threads))}"
    machine.record("mnist_epoch", figures, command)
    for n, fit in figures["fit"].items():
        print(f"common pipeline {figures['common_s']:.2f}s/epoch; fit with {n} thread(s) "
              f"{fit['train_s']:.2f}s training + {fit['eval_s']:.2f}s evaluation; speedup "
              f"{fit['speedup_train']:.1f}x (training), {fit['speedup_with_eval']:.1f}x (with evaluation)")


if __name__ == "__main__":
    main()
