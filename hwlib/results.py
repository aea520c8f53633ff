"""Results files: one JSON per experiment under build/<profile>/results/.

Every file has the same top-level fields (the README documents them):
id, profile, status, error, settings, seeds, device, provenance,
started_at, wall_time_s, models and summary. Files are written to a
temporary name and renamed, so a reader never sees half a file.
"""

import contextlib
import datetime as dt
import functools
import json
import logging
import math
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision

from hwlib.data import REPO_ROOT
from hwlib.train import TrainingDiverged

log = logging.getLogger(__name__)

BUILD_ROOT = REPO_ROOT / "build"
# set to a folder to put results files and the run cache there instead of build/
BUILD_DIR_ENV = "HW1_BUILD_DIR"
EXPERIMENT_IDS = (
    "sim-fit", "mnist-fit", "pca-path", "grad-norm", "minimal-ratio",
    "random-labels", "param-count", "interpolation", "sensitivity",
)
REQUIRED_FIELDS = (
    "id", "profile", "status", "error", "settings", "seeds", "device",
    "provenance", "started_at", "wall_time_s", "models", "summary",
)


def build_root() -> Path:
    """Return the folder of all profiles' builds: $HW1_BUILD_DIR when set, else build/."""
    return Path(os.environ.get(BUILD_DIR_ENV) or BUILD_ROOT)


def build_dir(profile: str) -> Path:
    """Return build/<profile>/ (or $HW1_BUILD_DIR/<profile>/), where results and caches go."""
    return build_root() / profile


def results_dir(profile: str, override: str | Path | None = None) -> Path:
    """Return the results folder: `override` when given, else build/<profile>/results."""
    return Path(override) if override else build_dir(profile) / "results"


def results_path(exp_id: str, profile: str, override: str | Path | None = None) -> Path:
    """Return the path of experiment `exp_id`'s results file."""
    if exp_id not in EXPERIMENT_IDS:
        raise ValueError(f"unknown experiment id {exp_id!r}; expected one of {', '.join(EXPERIMENT_IDS)}")
    return results_dir(profile, override) / f"{exp_id}.json"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def provenance() -> dict[str, Any]:
    """Return the versions, git commit and host facts that make a run reproducible."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def to_jsonable(value: Any) -> Any:
    """Convert tensors, arrays and NumPy scalars to plain lists and numbers; NaN becomes None."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write `payload` as JSON to a temporary file beside `path`, then rename it."""
    text = json.dumps(to_jsonable(payload), indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.",
                                      suffix=".tmp", delete=False)
    try:
        with tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, path)
    except BaseException:
        # an interrupted write keeps the previous file and leaves no temporary one
        Path(tmp.name).unlink(missing_ok=True)
        raise


def headline(question: str, result: str, reference: str | None, verdict: str) -> dict[str, Any]:
    """Return an experiment's row of the report index, stored as summary["headline"].

    `verdict` starts with "reproduced", "differs" or "reference wrong" and
    states by how much or why; every value is computed from the run.
    """
    return {"question": question, "result": result, "reference": reference, "verdict": verdict}


def load_results(exp_id: str, profile: str, override: str | Path | None = None) -> dict[str, Any]:
    """Read experiment `exp_id`'s results file; FileNotFoundError names the command that makes it."""
    path = results_path(exp_id, profile, override)
    if not path.is_file():
        raise FileNotFoundError(
            f"results file not found: {path}; run `make report PROFILE={profile}` to create it"
        )
    return json.loads(path.read_text())


def failure(res: dict[str, Any]) -> str | None:
    """Return "<id> failed: <error>" when results `res` did not finish, else None."""
    if res.get("status") == "ok":
        return None
    return f"{res.get('id', 'experiment')} {res.get('status', 'failed')}: {res.get('error')}"


def _as_is(message: str) -> str:
    return message


def failure_rows(message: str) -> list[dict[str, str]]:
    """Return a one-row table that states a failure, the fallback for table functions."""
    return [{"status": message}]


def unless_failed(fn: Callable | None = None, *,
                  fallback: Callable[[str], Any] = _as_is) -> Callable:
    """Decorate a function of results so that a failed experiment returns fallback(message).

    The message is `failure(res)`, e.g. "sim-fit failed: TrainingDiverged: ...".
    Bare `@unless_failed` returns it as is, which suits verdict functions; a table
    function passes a fallback that puts it in a row.
    """
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(res: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            message = failure(res)
            return fn(res, *args, **kwargs) if message is None else fallback(message)
        return wrapper
    return decorate if fn is None else decorate(fn)


@dataclass
class Experiment:
    """An experiment's results while it runs; `record` writes them as a results file."""

    exp_id: str
    profile: str
    settings: dict[str, Any]
    seeds: list[int]
    device: str
    results_dir: Path
    models: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    error: str | None = None
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    wall_time_s: float = 0.0

    @property
    def path(self) -> Path:
        return self.results_dir / f"{self.exp_id}.json"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.exp_id, "profile": self.profile, "status": self.status, "error": self.error,
            "settings": self.settings, "seeds": self.seeds, "device": self.device,
            "provenance": provenance(), "started_at": self.started_at,
            "wall_time_s": self.wall_time_s, "models": self.models, "summary": self.summary,
        }

    def record(self) -> Path:
        write_json_atomic(self.path, self.as_dict())
        return self.path


@contextlib.contextmanager
def experiment(exp_id: str, profile: str, settings: dict[str, Any], seeds: list[int],
               device: str, results_dir_override: str | Path | None = None) -> Iterator[Experiment]:
    """Collect an experiment's results and write its results file on exit.

    On success the file has status "ok". When the body raises, the file has
    status "failed" and the error message. A diverged training run
    (TrainingDiverged) ends there, so the notebook can show the failure and go
    on. Any other exception propagates.
    """
    path = results_path(exp_id, profile, results_dir_override)
    run = Experiment(exp_id, profile, dict(settings), list(seeds), str(device), path.parent)
    started = time.perf_counter()
    try:
        yield run
    except KeyboardInterrupt:
        # an interrupted run is no result of the experiment, so the last results file stays
        log.warning("%s interrupted; %s was left as it was", exp_id, run.path)
        raise
    except BaseException as error:
        run.status, run.error = "failed", f"{type(error).__name__}: {error}"
        run.wall_time_s = time.perf_counter() - started
        run.record()
        log.error("%s failed after %.1fs: %s; recorded in %s", exp_id, run.wall_time_s, run.error, run.path)
        if not isinstance(error, TrainingDiverged):
            raise
        return
    run.status = "ok"
    run.wall_time_s = time.perf_counter() - started
    run.record()
    log.info("%s finished in %.1fs; results in %s", exp_id, run.wall_time_s, run.path)
