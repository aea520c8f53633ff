"""Experiments of the deep learning homework 1 report series.

OpenMP threads that spin while they wait for work slow training 7-10x when
another process occupies a core (measured in docs/BENCHMARKS.md), so idle
threads sleep unless the caller chose otherwise. This takes effect only when
hwlib is imported before torch, as the notebooks and tests do.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
