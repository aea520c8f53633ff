"""Time training epochs of dnn-3 and cnn-1 with and without torch.compile.

Each model trains three epochs on 6,400 MNIST images at batch 64 through the
training loop of `fit`, once eager and once compiled; the first compiled
epoch includes the compilation. Run as `python -m bench.compile` (a few
minutes, so `make bench` leaves it out).
"""

import time

import torch

from bench import machine
from hwlib import data, train
from hwlib.models import build_model

MODELS = ("dnn-3", "cnn-1")
EPOCHS = 3
SAMPLES = 6400


def epoch_times(name: str, split, compiled: bool) -> list[float]:
    """Return the seconds of each of EPOCHS training epochs of model `name`."""
    train.seed_everything(0)
    model = build_model(name)
    forward = torch.compile(model) if compiled else model
    optimizer = train.make_optimizer(model.parameters(), 1e-3)
    loss_fn = train.loss_function("classification")
    generator = torch.Generator().manual_seed(0)
    times = []
    for _ in range(EPOCHS):
        started = time.perf_counter()
        train._train_epoch(forward, optimizer, loss_fn, split, 64, generator, (), 0, None)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    """Time every model both ways and record the epochs in bench/results.json."""
    split = data.load_mnist(True).subset(SAMPLES, 0)
    figures = {"samples": SAMPLES, "epochs_s": {}}
    for name in MODELS:
        for compiled in (False, True):
            key = f"{name} {'compiled' if compiled else 'eager'}"
            figures["epochs_s"][key] = epoch_times(name, split, compiled)
            print(key, [round(t, 2) for t in figures["epochs_s"][key]], flush=True)
    machine.record("compile", figures, "python -m bench.compile")


if __name__ == "__main__":
    main()
