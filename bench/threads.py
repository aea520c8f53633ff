"""Time a dnn-3 training epoch under three OpenMP settings, each in a fresh process.

OpenMP reads OMP_NUM_THREADS and OMP_WAIT_POLICY when torch loads, so every
setting runs in its own Python process. The settings alternate for `--rounds`
rounds, and the best time of each is kept. The Makefile's notebook settings
come from this comparison. Run as `python -m bench.threads`.
"""

import argparse
import json
import os
import subprocess
import sys

from bench import machine

SETTINGS = {
    "2 threads, spinning (torch default)": {"OMP_NUM_THREADS": "2"},
    "2 threads, passive wait": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "1 thread": {"OMP_NUM_THREADS": "1"},
}


def child(samples: int) -> None:
    """Train one epoch in this process and print its training seconds as JSON."""
    from bench.mnist_epoch import hwlib_epoch
    from hwlib import data

    split = data.load_mnist(True).subset(samples, 0)
    print(json.dumps(hwlib_epoch(0, split, None)))


def run_setting(env: dict, samples: int) -> float:
    """Return the training seconds of one epoch in a fresh process with `env` added."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-m", "bench.threads", "--child", "--samples", str(samples)],
                         env={**clean, **env}, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["train_s"]


def main() -> None:
    """Compare the settings and record them in bench/results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="side-by-side repetitions")
    parser.add_argument("--samples", type=int, default=20_000, help="training samples per epoch")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.samples)

    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for i in range(args.rounds):
        for name, env in SETTINGS.items():
            times[name].append(run_setting(env, args.samples))
            print(f"round {i + 1}: {name}: {times[name][-1]:.2f}s", flush=True)
    figures = {"samples": args.samples, "train_s": {name: min(t) for name, t in times.items()}}
    machine.record("threads", figures, f"python -m bench.threads --rounds {args.rounds} "
                   f"--samples {args.samples}")


if __name__ == "__main__":
    main()
