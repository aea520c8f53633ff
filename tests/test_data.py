"""Real MNIST files, their MD5 check, subsets, random labels and the simulated functions."""

import os
import shutil
import subprocess

import pytest
import torch

from hwlib import data


def test_train_split_shape(mnist_root):
    split = data.load_mnist(True)
    assert split.x.shape == (60_000, 1, 28, 28)
    assert split.y.shape == (60_000,)


def test_test_split_shape(mnist_root):
    split = data.load_mnist(False)
    assert split.x.shape == (10_000, 1, 28, 28)


def test_first_train_labels(mnist_root):
    assert data.load_mnist(True).y[:5].tolist() == [5, 0, 4, 1, 9]


def test_label_histogram(mnist_root):
    counts = torch.bincount(data.load_mnist(True).y, minlength=10).tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_pixels_normalized(mnist_root):
    x = data.load_mnist(True).x
    assert abs(x.mean().item()) < 1e-3
    assert abs(x.std().item() - 1.0) < 1e-3


def _copy_raw(mnist_root, tmp_path):
    target = data.raw_dir(tmp_path)
    target.mkdir(parents=True)
    for filename in data.MNIST_MD5:
        shutil.copy(data.raw_dir(mnist_root) / filename, target / filename)
    return target


def test_corrupt_file_names_md5(mnist_root, tmp_path):
    folder = _copy_raw(mnist_root, tmp_path)
    victim = folder / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(victim.read_bytes())
    content[100] ^= 0xFF
    victim.write_bytes(bytes(content))

    with pytest.raises(data.DataError) as error:
        data.verify_mnist(tmp_path)
    message = str(error.value)
    assert str(victim) in message
    assert data.MNIST_MD5["t10k-labels-idx1-ubyte.gz"] in message
    assert data.md5sum(victim) in message
    assert "MNIST_SOURCE" in message


def test_missing_file_is_named(mnist_root, tmp_path):
    folder = _copy_raw(mnist_root, tmp_path)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(data.DataError, match="not found: .*train-images-idx3-ubyte.gz"):
        data.verify_mnist(tmp_path)


def test_fetch_copies_from_source(mnist_root, tmp_path):
    folder = data.fetch_mnist(tmp_path / "fresh", source=data.raw_dir(mnist_root))
    assert (folder / "train-images-idx3-ubyte").is_file()
    assert data.verify_mnist(tmp_path / "fresh").keys() == data.MNIST_MD5.keys()
    assert not list(folder.glob(".*"))


def test_fetch_rejects_corrupt_source(mnist_root, tmp_path):
    source = _copy_raw(mnist_root, tmp_path / "source")
    (source / "train-labels-idx1-ubyte.gz").write_bytes(b"truncated")
    with pytest.raises(data.DataError, match="corrupt"):
        data.fetch_mnist(tmp_path / "fresh", source=source)


def test_subset_is_seeded(mnist_root):
    split = data.load_mnist(False)
    first, second = split.subset(500, seed=3), split.subset(500, seed=3)
    assert len(first) == 500
    assert torch.equal(first.y, second.y)
    assert not torch.equal(first.y, split.subset(500, seed=4).y)


def test_random_labels_is_permutation():
    labels = torch.arange(10).repeat(100)
    shuffled = data.random_labels(labels, seed=0)
    assert torch.equal(torch.bincount(shuffled), torch.bincount(labels))
    assert (shuffled != labels).float().mean() > 0.5


def test_sinc_target_values():
    x = torch.tensor([0.0, 0.2, 0.1])
    y = data.sinc_target(x)
    assert y[0] == 1.0
    assert abs(y[1].item()) < 1e-6
    assert abs(y[2].item() - 1 / (0.5 * torch.pi)) < 1e-6


def test_simulated_grids():
    f1, f2 = data.simulated("f1"), data.simulated("f2")
    assert f1.x.shape == (400, 1)
    assert f1.x[0].item() == pytest.approx(0.01)
    assert f2.x.shape == (200, 1)
    assert set(f2.y.unique().tolist()) <= {-1.0, 0.0, 1.0}


def test_unknown_simulated_function():
    with pytest.raises(ValueError, match="unknown simulated function 'f3'"):
        data.simulated("f3")


def test_truncated_gz_names_md5(mnist_root, tmp_path):
    folder = _copy_raw(mnist_root, tmp_path)
    victim = folder / "train-labels-idx1-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:10_000])

    with pytest.raises(data.DataError) as error:
        data.verify_mnist(tmp_path)
    message = str(error.value)
    expected, actual = data.MNIST_MD5[victim.name], data.md5sum(victim)
    assert f"{victim} is corrupt: expected MD5 {expected}, got {actual}" in message
    assert "make data" in message


def test_interrupted_extraction_leaves_nothing(mnist_root, tmp_path, monkeypatch):
    folder = _copy_raw(mnist_root, tmp_path)
    real_copy = shutil.copyfileobj

    def copy_half_then_stop(src, dst, *args):
        dst.write(src.read(1_000_000))
        raise KeyboardInterrupt

    monkeypatch.setattr(data.shutil, "copyfileobj", copy_half_then_stop)
    with pytest.raises(KeyboardInterrupt):
        data.load_mnist(False, root=tmp_path)
    assert not (folder / "train-images-idx3-ubyte").exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(data.MNIST_MD5)

    monkeypatch.setattr(data.shutil, "copyfileobj", real_copy)
    split = data.load_mnist(False, root=tmp_path)
    assert torch.equal(split.y, data.load_mnist(False).y)


def test_truncated_extracted_file_is_redone(mnist_root, tmp_path):
    folder = _copy_raw(mnist_root, tmp_path)
    data.fetch_mnist(tmp_path)
    extracted = folder / "t10k-labels-idx1-ubyte"
    extracted.write_bytes(extracted.read_bytes()[:5000])

    split = data.load_mnist(False, root=tmp_path)
    assert extracted.stat().st_size == data.EXTRACTED_SIZES[extracted.name]
    assert torch.equal(split.y, data.load_mnist(False).y)


def test_make_data_reports_corrupt_file(mnist_root, tmp_path):
    folder = _copy_raw(mnist_root, tmp_path)
    victim = folder / "t10k-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:-1])
    unset = (data.SOURCE_ENV, "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    env = {k: v for k, v in os.environ.items() if k not in unset}

    done = subprocess.run(["make", "-o", ".venv/.installed", "data", f"DATA_ROOT={tmp_path}"],
                          cwd=data.REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert f"error: MNIST file {victim} is corrupt: expected MD5" in done.stderr
    assert "downloading MNIST with torchvision failed" in done.stderr
    assert "MNIST_SOURCE" in done.stderr
    assert not (folder / ".verified").exists()


def test_corrupt_extracted_file_is_redone(mnist_root, tmp_path):
    folder = _copy_raw(mnist_root, tmp_path)
    data.fetch_mnist(tmp_path)
    extracted = folder / "train-labels-idx1-ubyte"
    content = bytearray(extracted.read_bytes())
    content[0:4] = b"\x00\x00\x00\x00"
    content[100] ^= 0xFF
    extracted.write_bytes(bytes(content))

    data.fetch_mnist(tmp_path)
    assert data.md5sum(extracted) == data.EXTRACTED_MD5[extracted.name]


def test_extracted_md5_matches_real_files(mnist_root):
    for filename, expected in data.EXTRACTED_MD5.items():
        assert data.md5sum(data.raw_dir(mnist_root) / filename) == expected


def test_offline_download_names_mnist_source(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.delenv(data.SOURCE_ENV, raising=False)
    monkeypatch.setattr(data, "MNIST", fail)
    with pytest.raises(data.DataError, match="not found.*downloading MNIST with torchvision failed.*MNIST_SOURCE"):
        data.fetch_mnist(tmp_path)


def test_download_removes_stale_extracted_files(mnist_root, tmp_path, monkeypatch):
    folder = _copy_raw(mnist_root, tmp_path)
    data.fetch_mnist(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    seen = []
    monkeypatch.delenv(data.SOURCE_ENV, raising=False)
    monkeypatch.setattr(data, "MNIST", lambda *args, **kwargs: seen.append(sorted(p.name for p in folder.iterdir())))

    with pytest.raises(data.DataError):
        data.fetch_mnist(tmp_path)
    assert "t10k-labels-idx1-ubyte" not in seen[0]
    assert "train-images-idx3-ubyte" not in seen[0]
