"""Machine facts and the results file shared by the benchmark scripts."""

import datetime as dt
import json
import os
import platform
import tempfile
from pathlib import Path

import torch

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo ("unknown" elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    """Return the facts a benchmark figure needs beside it: cores, CPU, threads, load, date."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ},
        "load_average": load_average(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def record(section: str, figures: dict, command: str) -> None:
    """Merge one benchmark's figures into bench/results.json, written atomically."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[section] = {"command": command, "machine": machine(), **figures}
    with tempfile.NamedTemporaryFile("w", dir=BENCH_DIR, prefix=".results.", delete=False) as tmp:
        json.dump(results, tmp, indent=2)
    os.replace(tmp.name, RESULTS)
