"""Benchmarks of parley against pyautogen 0.2.35, measured side by side in one run."""
