"""Scores of an evaluation and the tables made from them.

Every result carries the four :data:`~vsr_latent.metrics.METRICS` per frame, per sequence (mean
over its frames) and on average (mean over sequences, as the Vid4 tables do). The tables: CSV per
frame and per sequence, markdown, and the ``--json`` object; :meth:`EvaluationResult.write` saves
them all.
"""

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vsr_latent.atomic import write_json, write_text
from vsr_latent.metrics import METRICS


def _mean(values):
    return float(np.mean(values)) if len(values) else float("nan")


@dataclass
class SequenceResult:
    """Per-frame scores of one sequence; ``frames`` are the original (0-based) frame indices."""

    name: str
    frames: list = field(default_factory=list)
    scores: dict = field(default_factory=lambda: {m: [] for m in METRICS})
    files: list = field(default_factory=list)

    def add(self, index, score, file=None):
        self.frames.append(int(index))
        self.files.append("" if file is None else str(file))
        for m in METRICS:
            self.scores[m].append(float(score[m]))

    def mean(self):
        return {m: _mean(self.scores[m]) for m in METRICS}


@dataclass
class EvaluationResult:
    """The sequences scored under one protocol; for a predictor's evaluation also its speed,
    ``seconds_per_frame``: wall seconds of upscaling per input frame (scoring not included; None
    when frames already upscaled were scored)."""

    # A Protocol: only its name and description are read here, and protocols.py builds results.
    protocol: object
    sequences: dict = field(default_factory=dict)  # name -> SequenceResult, in evaluation order
    seconds_per_frame: float | None = None

    def average(self):
        """Mean over sequences of the per-sequence means."""
        means = [s.mean() for s in self.sequences.values()]
        return {m: _mean([x[m] for x in means]) for m in METRICS}

    def to_dict(self):
        """The ``--json`` object; non-finite numbers (identical frames' PSNR) become null."""

        def clean(d):
            return {k: (v if math.isfinite(v) else None) for k, v in d.items()}

        return {
            "protocol": self.protocol.name,
            "sequences": {
                name: {**clean(s.mean()), "frames": len(s.frames)}
                for name, s in self.sequences.items()
            },
            "average": clean(self.average()),
        }

    def frames_csv(self):
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["sequence", "frame", "file", *METRICS])
        for name, s in self.sequences.items():
            for i, (idx, file) in enumerate(zip(s.frames, s.files)):
                w.writerow([name, idx, file, *(f"{s.scores[m][i]:.6f}" for m in METRICS)])
        return out.getvalue()

    def sequences_csv(self):
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["sequence", "frames", *METRICS])
        for name, s in self.sequences.items():
            mean = s.mean()
            w.writerow([name, len(s.frames), *(f"{mean[m]:.6f}" for m in METRICS)])
        avg = self.average()
        w.writerow(["average", sum(len(s.frames) for s in self.sequences.values()),
                    *(f"{avg[m]:.6f}" for m in METRICS)])
        return out.getvalue()

    def markdown(self, title=None):
        p = self.protocol
        lines = []
        if title:
            lines += [f"### {title}", ""]
        lines += [f"Protocol `{p.name}`: {p.description}.", "",
                  "| sequence | frames | PSNR RGB (dB) | PSNR Y (dB) | SSIM RGB | SSIM Y |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]

        def row(name, n, d):
            return (f"| {name} | {n} | {d['psnr_rgb']:.2f} | {d['psnr_y']:.2f} | "
                    f"{d['ssim_rgb']:.4f} | {d['ssim_y']:.4f} |")

        for name, s in self.sequences.items():
            lines.append(row(name, len(s.frames), s.mean()))
        total = sum(len(s.frames) for s in self.sequences.values())
        lines.append(row("**average**", total, self.average()))
        return "\n".join(lines) + "\n"

    def write(self, out_dir, title=None):
        """``frames.csv``, ``sequences.csv``, ``results.md`` and ``results.json`` in ``out_dir``,
        each written atomically."""
        out_dir = Path(out_dir)
        write_text(out_dir / "frames.csv", self.frames_csv())
        write_text(out_dir / "sequences.csv", self.sequences_csv())
        write_text(out_dir / "results.md", self.markdown(title))
        write_json(out_dir / "results.json", self.to_dict())
        return out_dir
