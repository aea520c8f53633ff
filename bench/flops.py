"""Measure training FLOP/s of random-labels-mlp at batch 64 against the fp32 matmul peak.

FLOPs are counted as 6 x n_params x samples: per sample, each weight of a
linear layer costs one multiply-add (2 FLOPs) in the forward pass and two in
the backward pass (gradients of the input and of the weight). Biases, ReLU,
the loss and Adam are left out, so the count slightly understates the work.
The peak is the best rate of a square fp32 `torch.mm`, measured in the same
process with the same threads, alternating with the training rounds.
Run as `python -m bench.flops`.
"""

import argparse
import time

import torch

from bench import machine
from bench.mnist_epoch import TrainClock
from hwlib import data, train
from hwlib.models import build_model, count_parameters

MODEL = "random-labels-mlp"
BATCH_SIZE = 64
MATMUL_SIZE = 2048


def matmul_peak(size: int = MATMUL_SIZE, repeats: int = 5) -> float:
    """Return the best FLOP/s of an fp32 (size x size) @ (size x size) product."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def training_rate(split, n_params: int) -> float:
    """Return the FLOP/s of one epoch of `fit`'s training steps on `split` (evaluation excluded)."""
    train.seed_everything(0)
    model = build_model(MODEL)
    clock = TrainClock(-(-len(split) // BATCH_SIZE))
    train.fit(model, split, epochs=1, lr=1e-4, batch_size=BATCH_SIZE, callbacks=[clock], name=MODEL)
    return 6 * n_params * len(split) / clock.seconds


def measure(rounds: int, samples: int) -> dict:
    """Alternate peak and training measurements `rounds` times; return the best of each."""
    split = data.load_mnist(True).subset(samples, 0)
    split = data.Split(split.x, data.random_labels(split.y, 0))
    n_params = count_parameters(build_model(MODEL))
    peaks, rates = [], []
    for i in range(rounds):
        peaks.append(matmul_peak())
        rates.append(training_rate(split, n_params))
        print(f"round {i + 1}: matmul peak {peaks[-1] / 1e9:.1f} GFLOP/s, "
              f"training {rates[-1] / 1e9:.1f} GFLOP/s", flush=True)
    peak, rate = max(peaks), max(rates)
    return {"n_params": n_params, "samples": samples, "matmul_size": MATMUL_SIZE,
            "peak_gflops": peak / 1e9, "train_gflops": rate / 1e9, "fraction": rate / peak}


def main() -> None:
    """Run the measurement and record it in bench/results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="side-by-side repetitions")
    parser.add_argument("--samples", type=int, default=6400, help="training samples per round")
    args = parser.parse_args()
    figures = measure(args.rounds, args.samples)
    command = f"python -m bench.flops --rounds {args.rounds} --samples {args.samples}"
    machine.record("flops", figures, command)
    print(f"fp32 matmul peak {figures['peak_gflops']:.1f} GFLOP/s; {MODEL} training "
          f"{figures['train_gflops']:.1f} GFLOP/s = {figures['fraction']:.0%} of peak")


if __name__ == "__main__":
    main()
