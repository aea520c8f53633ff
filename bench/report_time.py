"""Time the quick report's notebooks: from scratch, an unchanged rerun, and a rerun from the cache.

All three runs build into one scratch folder (executed notebooks, pages,
results and the run cache, through BUILD, REPORT and HW1_BUILD_DIR), so they
neither read nor touch build/ and report/:
- cold: `make -j3` executes and renders every notebook with an empty cache
  (the notebooks run side by side, one thread each);
- no-op: make again with nothing changed (every page is up to date);
- cached: the executed notebooks and pages deleted, so `make -j3` re-executes
  every notebook and each run loads from the cache the cold run filled.
The index page is left out: it is built from build/<profile>/results.
Run as `python -m bench.report_time`.
"""

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench import machine

REPO_ROOT = Path(__file__).resolve().parents[1]


def timed_make(scratch: str, pages: list[str], *args: str) -> tuple[float, int]:
    """Run make for `pages` into `scratch`; return its wall-clock seconds and exit status.

    make runs with -k, so a notebook that fails does not stop the others.
    """
    env = {**os.environ, "HW1_BUILD_DIR": f"{scratch}/build"}
    command = ["make", "-k", *args, f"BUILD={scratch}/build/quick", f"REPORT={scratch}/report",
               *pages]
    started = time.perf_counter()
    status = subprocess.run(command, cwd=REPO_ROOT, env=env).returncode
    return time.perf_counter() - started, status


def measure(jobs: int) -> dict:
    """Run the cold, no-op and cached builds in one scratch folder; return their times."""
    notebooks = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
    figures: dict = {"notebooks": [nb.stem for nb in notebooks], "jobs": jobs}
    with tempfile.TemporaryDirectory(prefix="hw1-bench-") as scratch:
        pages = [f"{scratch}/report/{nb.stem}.html" for nb in notebooks]
        figures["cold_s"], figures["cold_status"] = timed_make(scratch, pages, f"-j{jobs}")
        figures["cold_rendered"] = [nb.stem for nb, page in zip(notebooks, pages) if Path(page).exists()]
        figures["cached_entries"] = len(list(Path(scratch).rglob("output.pkl")))

        figures["noop_s"], _ = timed_make(scratch, pages)
        for path in [*Path(scratch, "build", "quick").glob("*.ipynb"), *map(Path, pages)]:
            path.unlink(missing_ok=True)
        figures["cached_s"], figures["cached_status"] = timed_make(scratch, pages, f"-j{jobs}")
    return figures


def main() -> None:
    """Time the three builds and record them in bench/results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3, help="make -j for the cold and cached runs")
    args = parser.parse_args()
    figures = measure(args.jobs)
    machine.record("report_time", figures, f"python -m bench.report_time --jobs {args.jobs}")
    print({k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()})


if __name__ == "__main__":
    main()
