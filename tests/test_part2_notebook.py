"""Smoke run of the Part 2 notebook with tiny parameters."""

import pytest

from conftest import execute_notebook, image_outputs, read_results

TINY = {
    "pca_seeds": [0, 1, 2], "pca_epochs": 2, "pca_snapshot_every": 1, "pca_train_size": 300,
    "pca_test_size": 300, "gradnorm_mlp_epochs": 120, "gradnorm_cnn_epochs": 1,
    "gradnorm_train_size": 256, "spike_window": 10, "ratio_runs": 3, "ratio_epochs": 20,
    "ratio_max_steps": 20,
}


@pytest.mark.notebook
def test_part2_notebook_smoke(tmp_path, mnist_root):
    nb = execute_notebook("part2_optimization", {"profile": "custom", **TINY}, tmp_path)
    assert image_outputs(nb) == 6

    pca = read_results(tmp_path, "pca-path")
    assert pca["status"] == "ok"
    assert len(pca["summary"]["whole"]["coords"]) == 3
    assert len(pca["summary"]["whole"]["coords"][0]) == 3  # epochs 0, 1, 2
    assert pca["summary"]["headline"]["verdict"].startswith(("reproduced", "differs"))

    gn = read_results(tmp_path, "grad-norm")
    assert len(gn["models"]["gradnorm-mlp"]["grad_norm"]) == 120
    assert len(gn["models"]["gradnorm-cnn"]["loss"]) == 2  # 256 images in batches of 128
    assert gn["summary"]["headline"]["verdict"].startswith(("reproduced", "differs"))

    ratio = read_results(tmp_path, "minimal-ratio")
    assert len(ratio["models"]["sim-1"]["eigenvalues"][0]) == 571
    assert len(ratio["models"]["sim-1"]["minimal_ratio"]) == 3
    assert ratio["summary"]["headline"]["verdict"].startswith("reference wrong")
