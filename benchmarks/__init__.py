"""Benchmarks: each writes JSON and a readable report under benchmarks/results/."""
