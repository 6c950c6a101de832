"""Metric implementations: means and counts, F1 over classes, QA EM/F1, sacrebleu metrics, and a metric's value
on bootstrap resamples from its own sufficient statistics."""
