"""Reproducing the paper's tables and figures: ``python -m vsr_latent.paper <name>``.

``reproduce/<name>.sh`` are thin wrappers around it; ``vsr-latent quickstart`` runs them all at
the smoke budget. Each name trains what it needs (or reuses a finished run of the same config
under ``runs/``), evaluates, and writes ``results/<name>.md`` and ``.csv`` with the paper's number
beside ours for every row (see :mod:`vsr_latent.paper.results`).
"""

NAMES = ("table1", "figure6", "table2", "table3", "table4", "table5", "figure7_8", "figure9")
