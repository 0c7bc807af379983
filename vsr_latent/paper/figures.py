"""Figures: PSNR against sequence length (Figure 6) and attention pictures (Figures 7, 8).

PNG files written with matplotlib's Agg backend (no display needed), atomically, next to the
tables.
"""

import numpy as np

from vsr_latent.atomic import atomic_path
from vsr_latent.configs import paper_numbers as paper
from vsr_latent.paper.results import SMOKE_BUDGETS


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path):
    plt = pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_figure6(table, path, label):
    """Two curves, PSNR of Latn10_n and Satn10_n against n (measured values; points that were
    not measured are left out). ``label``: the headline label (``ResultsTable.label``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for kind, marker in (("latn", "o"), ("satn", "s")):
        ns, ps = [], []
        for n in paper.FIGURE6_LENGTHS:
            v = table.value(f"{kind}10_{n}", "psnr")
            if v is not None and np.isfinite(v):
                ns.append(n)
                ps.append(v)
        ax.plot(ns, ps, marker=marker, label=f"{kind.capitalize()}10_n")
    ax.axvline(paper.FIGURE6_CROSSING, color="grey", ls="--", lw=0.8,
               label=f"paper: curves cross at n = {paper.FIGURE6_CROSSING}")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("PSNR / dB")
    ax.set_xticks(list(paper.FIGURE6_LENGTHS))
    title = "Figure 6: PSNR against sequence length"
    budget = label.split(";")[0]
    if budget in SMOKE_BUDGETS:
        title += f"\n({budget} budget: not comparable to the paper)"
    elif budget == "cpu":
        title += "\n(CPU scale: not the paper's data or steps)"
    elif label != "full":  # a "modified settings: ..." label (results.budget_label)
        title += f"\n({label})"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save(fig, path)
