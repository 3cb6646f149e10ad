"""Straightforward numpy/scipy versions of the degradations, as the reference codes run them on the host: the baseline of experiments/bench_degrade.py."""
