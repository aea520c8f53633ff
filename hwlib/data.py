"""MNIST files and tensors, and the simulated functions of Parts 1 and 2.

`fetch_mnist` puts the four original MNIST .gz files in data/MNIST/raw/,
checks their MD5 sums and extracts them; `load_mnist` reads them through
torchvision.datasets.MNIST and returns normalized tensors on a device, so the
training loop never runs a per-sample transform.
"""

import argparse
import functools
import gzip
import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.datasets import MNIST

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO_ROOT / "data"

# mean and std of the MNIST training pixels scaled to [0, 1]
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
N_TRAIN = 60_000
N_TEST = 10_000

# file name -> MD5 of the .gz file, as in torchvision.datasets.MNIST.resources
MNIST_MD5 = {filename: md5 for filename, md5 in MNIST.resources}
# extracted file name -> size in bytes (16- or 8-byte header, then the images or labels)
EXTRACTED_SIZES = {
    "train-images-idx3-ubyte": 16 + N_TRAIN * 28 * 28,
    "train-labels-idx1-ubyte": 8 + N_TRAIN,
    "t10k-images-idx3-ubyte": 16 + N_TEST * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + N_TEST,
}
# extracted file name -> MD5, computed from the extracted verified .gz files
EXTRACTED_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

SOURCE_ENV = "MNIST_SOURCE"
FIX_HINT = (
    "To fix it, set MNIST_SOURCE to a folder that contains the four original .gz files and "
    "run `make data`, or run `make data` with internet access so that torchvision downloads "
    "the missing or corrupt files again."
)


class DataError(RuntimeError):
    """An MNIST file is missing or does not match its MD5 sum."""


def md5sum(path: Path) -> str:
    """Return the hex MD5 digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def raw_dir(root: Path | None = None) -> Path:
    """Return the folder that contains the raw MNIST files under `root`."""
    return Path(root or DEFAULT_DATA_ROOT) / "MNIST" / "raw"


def verify_mnist(root: Path | None = None) -> dict[str, str]:
    """Check the four .gz files under `root` and return their MD5 sums.

    Raises DataError naming the first missing or corrupt file, its expected and
    actual MD5, and how to fix it.
    """
    folder = raw_dir(root)
    sums = {}
    for filename, expected in MNIST_MD5.items():
        path = folder / filename
        if not path.is_file():
            raise DataError(f"MNIST file not found: {path}. {FIX_HINT}")
        actual = md5sum(path)
        if actual != expected:
            raise DataError(
                f"MNIST file {path} is corrupt: expected MD5 {expected}, got {actual}. {FIX_HINT}"
            )
        sums[filename] = actual
    return sums


def _write_atomic(dst: Path, write) -> None:
    """Call write(file) on a temporary file beside `dst`, then rename it to `dst`.

    When `write` raises, the temporary file is removed, so an interrupted copy or
    extraction leaves neither a partial file under the final name nor a stray one.
    """
    tmp = tempfile.NamedTemporaryFile(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp",
                                      delete=False)
    try:
        with tmp:
            write(tmp)
        os.replace(tmp.name, dst)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise


def _copy_atomic(src: Path, dst: Path) -> None:
    def write(out):
        with open(src, "rb") as f:
            shutil.copyfileobj(f, out)
    _write_atomic(dst, write)
    dst.chmod(0o644)


def _extract_atomic(gz_path: Path) -> None:
    def write(out):
        with gzip.open(gz_path, "rb") as f:
            shutil.copyfileobj(f, out)
    _write_atomic(gz_path.with_suffix(""), write)
    gz_path.with_suffix("").chmod(0o644)


def _extract_missing(folder: Path) -> None:
    """Extract each verified .gz whose extracted file is missing or does not match its MD5."""
    for filename, expected in EXTRACTED_MD5.items():
        target = folder / filename
        if target.is_file():
            actual = md5sum(target)
            if actual == expected:
                continue
            log.warning("%s is corrupt (expected MD5 %s, got %s); extracting it again from %s.gz",
                        target, expected, actual, filename)
        _extract_atomic(folder / f"{filename}.gz")

        actual = md5sum(target)
        if actual != expected:
            raise DataError(f"extracting {target} gave MD5 {actual}, expected {expected}. {FIX_HINT}")


def _copy_from_source(source: Path, folder: Path) -> None:
    for filename, expected in MNIST_MD5.items():
        dst = folder / filename
        if dst.is_file() and md5sum(dst) == expected:
            continue
        src = source / filename
        if not src.is_file():
            raise DataError(f"MNIST file not found in {SOURCE_ENV}={source}: {src}. {FIX_HINT}")
        log.info("copying %s from %s", filename, source)
        _copy_atomic(src, dst)


def _remove_bad_files(folder: Path) -> list[str]:
    """Delete corrupt .gz files and all extracted files, and return what was wrong.

    torchvision's MNIST.download returns early when the extracted files exist,
    so they go too and are extracted again after the download.
    """
    problems = []
    for filename, expected in MNIST_MD5.items():
        gz_path = folder / filename
        if not gz_path.is_file():
            problems.append(f"MNIST file not found: {gz_path}")
        elif (actual := md5sum(gz_path)) != expected:
            problems.append(f"MNIST file {gz_path} is corrupt: expected MD5 {expected}, got {actual}")
            gz_path.unlink()
        gz_path.with_suffix("").unlink(missing_ok=True)
    return problems


def _download(root: Path) -> None:
    problems = _remove_bad_files(raw_dir(root))
    for problem in problems:
        log.warning("%s; downloading it again", problem)
    log.info("downloading MNIST with torchvision into %s", raw_dir(root))
    try:
        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
    except (RuntimeError, OSError) as error:
        raise DataError(
            f"{'; '.join(problems)}, and downloading MNIST with torchvision failed: {error}. "
            f"Without internet access, set {SOURCE_ENV} to a folder that contains the four "
            "original .gz files and run `make data`."
        ) from error


def fetch_mnist(root: Path | None = None, source: Path | str | None = None) -> Path:
    """Put the four MNIST .gz files under `root`, verify them and extract them.

    Files come from `source` (or the MNIST_SOURCE environment variable), a
    folder that contains the .gz files; without one, torchvision downloads them.
    Every file is written to a temporary name and renamed, so an interrupted
    fetch never leaves a partial file under its final name.
    Returns the raw folder.
    """
    root = Path(root or DEFAULT_DATA_ROOT)
    folder = raw_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    source = source or os.environ.get(SOURCE_ENV)

    if source:
        _copy_from_source(Path(source), folder)
    elif not all((folder / f).is_file() and md5sum(folder / f) == md5 for f, md5 in MNIST_MD5.items()):
        _download(root)

    verify_mnist(root)
    _extract_missing(folder)
    return folder


@dataclass
class Split:
    """Images (N, 1, 28, 28), normalized, and integer labels (N,) on one device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, n: int | None, seed: int) -> "Split":
        """Return `n` samples drawn without replacement with `seed` (all when n is None)."""
        if n is None or n >= len(self):
            return self
        generator = torch.Generator().manual_seed(seed)
        index = torch.randperm(len(self), generator=generator)[:n].to(self.y.device)
        return Split(self.x[index], self.y[index])


@functools.lru_cache(maxsize=4)
def _load_split_cpu(root: str, train: bool) -> Split:
    dataset = MNIST(root, train=train, download=False)
    x = dataset.data.unsqueeze(1).float().div_(255.0)
    x = x.sub_(MNIST_MEAN).div_(MNIST_STD)
    return Split(x.contiguous(), dataset.targets.long())


def load_mnist(train: bool, device: torch.device | str = "cpu", root: Path | None = None) -> Split:
    """Load the MNIST training or test set as normalized tensors on `device`.

    Verifies the files first; run `fetch_mnist` (or `make data`) to get them.
    """
    root = Path(root or DEFAULT_DATA_ROOT)
    verify_mnist(root)
    _extract_missing(raw_dir(root))
    split = _load_split_cpu(str(root), train)
    return Split(split.x.to(device), split.y.to(device))


def mnist_splits(train_size: int | None, test_size: int | None, seed: int,
                 device: torch.device | str = "cpu") -> tuple[Split, Split]:
    """Return seeded subsets of the MNIST training and test sets on `device` (None: all)."""
    train_split = load_mnist(True, device).subset(train_size, seed)
    test_split = load_mnist(False, device).subset(test_size, seed)
    return train_split, test_split


def mnist_checksum(root: Path | None = None) -> str:
    """Return one MD5 over the four verified .gz files, for cache keys."""
    sums = verify_mnist(root)
    return hashlib.md5("".join(sums[f] for f in sorted(sums)).encode()).hexdigest()


def random_labels(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """Return the labels in a random order: a seeded permutation, so the histogram is kept."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator).to(labels.device)
    return labels[order]


# simulated functions of Part 1.1 and Part 2
def sinc_target(x: torch.Tensor) -> torch.Tensor:
    """Return f1(x) = sin(5*pi*x) / (5*pi*x), equal to 1 at x = 0."""
    return torch.sinc(5 * x)


def sign_target(x: torch.Tensor) -> torch.Tensor:
    """Return f2(x) = sgn(sin(5*pi*x))."""
    return torch.sign(torch.sin(5 * torch.pi * x))


SIMULATED = {
    # name: (target, x_min, x_max, n_points)
    "f1": (sinc_target, 0.01, 1.0, 400),
    "f2": (sign_target, -1.0, 1.0, 200),
}


def simulated(name: str, device: torch.device | str = "cpu") -> Split:
    """Return the evenly spaced inputs (N, 1) and targets (N, 1) of function `name`."""
    if name not in SIMULATED:
        raise ValueError(f"unknown simulated function {name!r}; expected one of {list(SIMULATED)}")
    target, x_min, x_max, n_points = SIMULATED[name]
    x = torch.linspace(x_min, x_max, n_points).unsqueeze(1)
    return Split(x.to(device), target(x).to(device))


def main(argv: list[str] | None = None) -> None:
    """Fetch and verify MNIST from the command line (`python -m hwlib.data [--root DIR]`)."""
    parser = argparse.ArgumentParser(description="Fetch MNIST, check its MD5 sums and extract it.")
    parser.add_argument("--root", type=Path, default=DEFAULT_DATA_ROOT,
                        help="data folder; the files go to ROOT/MNIST/raw (default: data)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        folder = fetch_mnist(args.root)
    except DataError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"MNIST ready in {folder}: the four .gz files and their extracted files match their MD5 sums")


if __name__ == "__main__":
    main()
