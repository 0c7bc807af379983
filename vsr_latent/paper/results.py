"""The results writer: the paper's number beside ours for every row, and how ours were made.

A :class:`ResultsTable` starts from a :class:`~vsr_latent.configs.paper_numbers.PaperTable`; the
drivers record a measurement (:meth:`ResultsTable.measure`) or the reason a row was not measured
(:meth:`ResultsTable.not_run`) for every row the reproduction is meant to measure. Rows with no
record are written as "not run": the writer never makes a number up. Rows whose numbers the paper
quotes from other publications are labelled as quoted and never get a measurement.

:meth:`ResultsTable.write` writes ``<out>/<name>.md`` (the table, then the command, budget,
configs, hardware, steps, wall time and data) and ``<out>/<name>.csv`` (one line per row and
metric), each atomically.
"""

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from vsr_latent.atomic import write_text
from vsr_latent.errors import ConfigError

NOT_RUN = "not run"
QUOTED = "quoted"
MEASURED = "measured"

#: Budgets of narrow models trained for a few minutes at most: their results say so first.
SMOKE_BUDGETS = ("tiny", "smoke")

SMOKE_WARNING = (
    "**SMOKE SCALE — NOT COMPARABLE TO THE PAPER.** Tiny models trained for a few steps on the "
    "built-in synthetic clips, on a CPU: these numbers check that the pipeline runs end to end; "
    "they say nothing about the method's accuracy."
)

REHEARSAL_WARNING = (
    "**REHEARSAL — NOT COMPARABLE TO THE PAPER.** The full budget's models, batch, patch, L and "
    "protocol on real HD footage, trained for a few steps and scored on the first frames of each "
    "clip: the record under \"How these numbers were made\" (memory, phase times, projected "
    "full-budget time) is the point, not the PSNRs.")
CPU_WARNING = (
    "**CPU SCALE — NOT THE PAPER'S DATA OR STEPS.** Full-size models trained for a few thousand "
    "steps on a 2-core CPU on real footage (../shared/data/train_clips), not on the paper's "
    "Harmonic / CDVL / SJTU 4K data; every setting is listed under \"How these numbers were "
    "made\". Orderings between rows are informative; the absolute numbers are not the paper's."
)

MODIFIED_WARNING = (
    "**MODIFIED SETTINGS — NOT THE PAPER'S SETUP.** The configs' own settings were changed "
    "(`--set`): {listed}. These numbers come from the changed settings, not the paper's."
)


def budget_label(budget, modified=()):
    """The budget a results file headlines (its "Scale:" line and CSV ``scale`` column): the
    budget's name only when the configs' own settings ran; with user overrides, ``"modified
    settings: k=v, ..."`` (at the full budget: "full" would claim the paper's settings) or
    ``"smoke; modified settings: ..."``."""
    if not modified:
        return budget
    listed = "modified settings: " + ", ".join(modified)
    return listed if budget == "full" else f"{budget}; {listed}"


def headline_lines(budget, modified=()):
    """The Markdown lines under a results file's title that say at what budget and with which
    settings its numbers were made (see :func:`budget_label`)."""
    lines = []
    if budget in SMOKE_BUDGETS:
        lines += [SMOKE_WARNING, ""]
    elif budget == "cpu":
        lines += [CPU_WARNING, ""]
    elif budget == "rehearsal":
        lines += [REHEARSAL_WARNING, ""]
    if modified:
        lines += [MODIFIED_WARNING.format(listed=", ".join(f"`{m}`" for m in modified)), "",
                  (f"Scale: **{budget_label(budget, modified)}** (settings under \"How these "
                  "numbers were made\")."), ""]
    elif budget == "cpu":
        lines += ["Scale: **CPU SCALE** (settings under \"How these numbers were made\").", ""]
    elif budget not in SMOKE_BUDGETS:
        lines += [(f"Scale: **{budget}** (the paper's data; settings under \"How these "
                  "numbers were made\")."), ""]
    return lines


CSV_FIELDS = ("table", "scale", "group", "row", "label", "metric", "paper", "ours", "status",
              "source", "note")


def format_value(value, spec):
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if spec.endswith("d"):
        return format(round(float(value)), spec)
    return format(value, spec)


@dataclass
class _Record:
    values: dict = field(default_factory=dict)
    note: str = ""
    reason: str | None = None  # set for rows that were not run


class ResultsTable:
    """A paper table being filled with measurements.

    ``extra_metrics``: ``((key, header, format), ...)`` columns the package measures that the
    paper does not print (e.g. Table 4's standard-protocol PSNR); they have no paper column.
    ``modified``: the user's overrides of the configs' settings (``Context.modified``); any makes
    the headline "modified settings: ..." instead of the budget's name.
    """

    def __init__(self, paper, *, budget, extra_metrics=(), modified=()):
        self.paper = paper
        self.budget = budget
        self.modified = tuple(modified)
        self.extra_metrics = tuple(extra_metrics)
        self._records = {}
        self.meta = {}  # ordered "what made these numbers" lines: header -> text
        self.notes = list(paper.notes)
        self.figures = []

    @property
    def name(self):
        return self.paper.name

    @property
    def label(self):
        """The headline budget (see :func:`budget_label`)."""
        return budget_label(self.budget, self.modified)

    def _row(self, key):
        try:
            return self.paper.row(key)
        except KeyError as e:
            raise ConfigError(str(e)) from None

    def measure(self, key, note="", **values):
        """Records measured ``values`` (metric -> number) for row ``key``."""
        row = self._row(key)
        if row.quoted:
            raise ConfigError(f"{self.name}/{key}: the paper quotes this row from {row.quoted}; "
                              "it is not measured by this package")
        known = {m[0] for m in self.paper.metrics + self.extra_metrics}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"{self.name}/{key}: unknown metrics {sorted(unknown)}")
        rec = self._records.setdefault(key, _Record())
        rec.values.update({k: (None if v is None else float(v)) for k, v in values.items()})
        rec.reason = None
        if note:
            rec.note = note

    def not_run(self, key, reason):
        """Records that row ``key`` was not measured, and why."""
        self._row(key)
        rec = self._records.setdefault(key, _Record())
        rec.reason = reason

    def value(self, key, metric):
        rec = self._records.get(key)
        return None if rec is None or rec.reason else rec.values.get(metric)

    def missing(self):
        """Keys of rows that should be measured but have no measurement for every metric."""
        out = []
        for row in self.paper.rows:
            if not row.measure:
                continue
            if any(self.value(row.key, m[0]) is None for m in self.paper.metrics):
                out.append(row.key)
        return out

    # ---- rendering -------------------------------------------------------------------------

    def _cells(self, row):
        """(status, paper cells, ours cells, note) for one row."""
        rec = self._records.get(row.key)
        paper_cells, ours_cells = [], []
        for key, _, spec in self.paper.metrics:
            pv = row.values.get(key)
            p = format_value(pv, spec) if pv is not None else row.missing
            if row.quoted:
                p = f"{p} (quoted: {row.quoted})"
            paper_cells.append(p)
        if row.quoted:
            status = QUOTED
            ours_cells = ["— (quoted, not measured)"] * (len(self.paper.metrics)
                                                         + len(self.extra_metrics))
            # Which LR degradation the source reported on decides whether its number is
            # comparable with ours at all.
            note = (f"source's LR degradation: {row.source_degradation}"
                    if row.source_degradation else "")
        elif rec is None or rec.reason is not None:
            status = NOT_RUN
            ours_cells = [NOT_RUN] * (len(self.paper.metrics) + len(self.extra_metrics))
            note = rec.reason if rec is not None else ""
        else:
            status = MEASURED
            for key, _, spec in self.paper.metrics + self.extra_metrics:
                v = rec.values.get(key)
                ours_cells.append(format_value(v, spec) if v is not None else NOT_RUN)
            note = rec.note
        return status, paper_cells, ours_cells, note

    def to_markdown(self):
        grouped = any(r.group for r in self.paper.rows)
        head = (["Group"] if grouped else []) + ["Model"]
        for _, header, _ in self.paper.metrics:
            head += [f"{header} (paper)", f"{header} (ours)"]
        for _, header, _ in self.extra_metrics:
            head += [f"{header} (ours)"]
        head += ["Note"]
        lines = [f"# {self.paper.title}", ""] + headline_lines(self.budget, self.modified)
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        n_paper = len(self.paper.metrics)
        for row in self.paper.rows:
            _status, pc, oc, note = self._cells(row)
            cells = ([row.group] if grouped else []) + [row.label]
            for i in range(n_paper):
                cells += [pc[i], oc[i]]
            cells += oc[n_paper:]
            cells += [note.replace("|", "/")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        if self.notes:
            lines += [f"- {n}" for n in self.notes] + [""]
        if self.figures:
            lines += ["## Figures", ""] + [f"![{f}]({f})" for f in self.figures] + [""]
        if self.meta:
            lines += ["## How these numbers were made", ""]
            for k, v in self.meta.items():
                if isinstance(v, (list, tuple)):
                    lines.append(f"- **{k}**:")
                    lines += [f"    - {x}" for x in v]
                else:
                    lines.append(f"- **{k}**: {v}")
            lines.append("")
        return "\n".join(lines)

    def to_csv(self):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
        w.writeheader()
        for row in self.paper.rows:
            status, _, _, note = self._cells(row)
            for key, _, spec in self.paper.metrics + self.extra_metrics:
                rec = self._records.get(row.key)
                ours = None if status != MEASURED else rec.values.get(key)
                pv = row.values.get(key)
                w.writerow({
                    "table": self.name, "scale": self.label, "group": row.group,
                    "row": row.key, "label": row.label, "metric": key,
                    "paper": "" if pv is None else pv,
                    "ours": "" if ours is None else repr(ours),
                    "status": status if (status != MEASURED or ours is not None) else NOT_RUN,
                    "source": (f"quoted in the paper from {row.quoted}" if row.quoted
                               else ("paper" if pv is not None else "")),
                    "note": note,
                })
        return buf.getvalue()

    def write(self, out_dir):
        """Writes ``<out_dir>/<name>.md`` and ``.csv`` atomically; returns the two paths."""
        out_dir = Path(out_dir)
        md, cs = out_dir / f"{self.name}.md", out_dir / f"{self.name}.csv"
        write_text(cs, self.to_csv())
        write_text(md, self.to_markdown())
        return md, cs


def read_results_csv(path):
    """The rows of a results CSV as dicts (``paper`` / ``ours`` as floats or None)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("paper", "ours"):
            r[k] = float(r[k]) if r[k] not in ("", None) else None
    return rows
