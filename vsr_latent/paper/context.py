"""What every reproduction driver shares: budget, folders, hardware, progress printing, timings."""

import datetime
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vsr_latent import __version__, hardware
from vsr_latent.errors import ConfigError
from vsr_latent.models import registry_changes
from vsr_latent.paper.projection import record
from vsr_latent.paper.reproduction_budget import choose_budget, reproduction_budget
from vsr_latent.paper.results import ResultsTable, budget_label
from vsr_latent.paths import REPO_ROOT, shared_data_dir

#: Training settings that change how often a run logs or saves, never its numbers: a ``--set``
#: of these alone leaves a results file headlined with its budget.
BOOKKEEPING_KEYS = ("log_every", "checkpoint_every", "image_every")


def modified_settings(overrides):
    """The user's ``--set`` overrides that change what is trained or measured (steps, model,
    data, batch, ...): all but :data:`BOOKKEEPING_KEYS`."""
    return tuple(item for item in overrides
                 if item.split("=", 1)[0].strip() not in BOOKKEEPING_KEYS)


def default_vid4_root():
    """``../shared/data/Vid4`` when present (the project's CI data), else None."""
    d = shared_data_dir()
    if d is not None and (d / "Vid4" / "GT").is_dir():
        return d / "Vid4"
    return None


def git_commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@dataclass
class RunInfo:
    """A training run a table used: where, how many steps, whether it was trained now."""

    config_name: str
    run_dir: Path
    config: object
    steps: int
    trained_now: bool
    wall_s: float
    replicas: int | None = None  # replicas it was trained on now (None: reused)

    def describe(self):
        how = (f"trained now in {self.wall_s:.0f} s on {self.replicas} replica(s)"
               if self.trained_now else "reused (already complete)")

        c = self.config
        stages = (f"{c.stage1_steps} + {c.stage2_steps} (stage 2)" if c.stage2_steps
                  else f"{c.stage1_steps}")
        changes = {k: v for k, v in registry_changes(c.model).items() if k != "seq_len"}
        what = (f"model {c.model.name} L={c.model.seq_len}"
                + (f" {changes}" if changes else "")
                + f", steps {stages}, batch {c.data.batch_size}, LR patch {c.data.lr_patch}, "
                f"lr {c.optimizer.learning_rate:g}, degradation {c.data.degradation}, "
                f"data {c.data.source}" + (f", init_from {c.init_from}" if c.init_from else ""))
        return f"`{self.config_name}` -> `{self.run_dir}`: {what}; {how}"


@dataclass
class Context:
    name: str
    budget: object  # vsr_latent.paper.reproduction_budget.ReproductionBudget
    budget_reason: str
    out_dir: Path
    runs_root: Path
    data_root: str | None
    vid4_root: Path | None
    command: str
    hardware: dict
    quiet: bool = False
    model: str | None = None  # Figure 9's "ours" (--model SPEC); None: the `ours` config's run
    overrides: tuple = ()  # the user's --set KEY=VALUE, applied to every config
    runs: dict = field(default_factory=dict)  # config name -> RunInfo (this invocation)
    failures: list = field(default_factory=list)  # "table/row: reason" of rows that failed
    started: float = field(default_factory=time.monotonic)

    @property
    def modified(self):
        """The user's overrides of the configs' settings (see :func:`modified_settings`)."""
        return modified_settings(self.overrides)

    @property
    def budget_label(self):
        """What a results file headlines: "full" only when the configs' own settings ran."""
        return budget_label(self.budget.name, self.modified)

    def results_table(self, paper, **kwargs):
        """A :class:`ResultsTable` of ``paper`` headlined with this run's budget and settings."""
        return ResultsTable(paper, budget=self.budget.name, modified=self.modified, **kwargs)

    @property
    def runs_dir(self):
        # Runs of a smaller budget live apart from full ones so that they never reuse (or
        # clobber) a paper-scale run of the same config.
        if self.budget.name != "full":
            return self.runs_root / self.budget.name
        return self.runs_root

    def log(self, message):
        if not self.quiet:
            elapsed = time.monotonic() - self.started
            print(f"[{self.name} {elapsed:6.0f}s] {message}", flush=True)

    def fill_meta(self, table, *, runs=(), data="", protocol="", extra=None):
        """The "how these numbers were made" lines of a results table."""
        table.meta["Command"] = f"`{self.command}`"
        user = (" ; user settings: " + " ".join(self.overrides)) if self.overrides else ""
        table.meta["Scale"] = f"{self.budget_label} ({self.budget_reason})"
        table.meta["Scale settings"] = self.budget.describe() + user
        table.meta["Hardware"] = hardware.summary(self.hardware)
        infos = [self.runs[r] for r in runs if r in self.runs]
        if infos:
            table.meta["Configs and steps"] = [i.describe() for i in infos]
            table.meta["Training steps"] = ", ".join(f"{i.config_name}: {i.steps}" for i in infos)
        if data:
            table.meta["Data"] = data
        if protocol:
            table.meta["Protocol"] = protocol
        for k, v in (extra or {}).items():
            table.meta[k] = v
        if self.budget.name == "rehearsal":
            for k, v in record(self, infos).items():
                table.meta[k] = v
        table.meta["Wall time"] = f"{time.monotonic() - self.started:.0f} s for this table"
        table.meta["Date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        commit = git_commit()
        table.meta["Package"] = f"vsr_latent {__version__}" + (f" (git {commit})" if commit else "")


@dataclass(frozen=True)
class ReproduceSettings:
    """What a reproduction was asked for, passed whole from the command line to every driver's
    :class:`Context` (``python -m vsr_latent.paper`` maps its flags onto these fields one to one:
    ``--out`` is ``out_dir``, ``--runs`` is ``runs_dir``, ``--set`` are ``overrides``)."""

    budget: str | None = None  # None: choose_budget decides (and says why)
    data_root: str | None = None
    vid4_root: str | None = None  # None: ../shared/data/Vid4 when present
    out_dir: str = "results"
    runs_dir: str = "runs"
    steps: int | None = None
    quiet: bool = False
    argv: tuple | None = None  # the command line, for the results' "Command" line
    command: str | None = None  # or the command itself
    overrides: tuple = ()
    budget_reason: str | None = None
    model: str | None = None  # Figure 9's --model

    @classmethod
    def from_args(cls, args, argv):
        """The settings of a parsed ``python -m vsr_latent.paper`` command line."""
        return cls(budget=args.budget, data_root=args.data_root, vid4_root=args.vid4_root,
                   out_dir=args.out, runs_dir=args.runs, steps=args.steps, quiet=args.quiet,
                   argv=tuple(argv), overrides=tuple(args.overrides), model=args.model)


#: make_context's and reproduce's older keyword names of two settings.
_OLD_NAMES = {"out": "out_dir", "runs": "runs_dir"}


def settings_from(settings=None, **keywords):
    """``settings`` (a :class:`ReproduceSettings`), or one made from keyword arguments."""
    if settings is not None:
        if keywords:
            raise TypeError("pass either settings or keyword arguments, not both")
        return settings
    keywords = {_OLD_NAMES.get(k, k): v for k, v in keywords.items()}
    for key in ("overrides", "argv"):
        if keywords.get(key) is not None:
            keywords[key] = tuple(keywords[key])
    return ReproduceSettings(**keywords)


def make_context(name, settings=None, *, hardware_info=None, shared_runs=None, **keywords):
    """A :class:`Context` for driver ``name`` from :class:`ReproduceSettings` (or the same as
    keyword arguments), choosing the budget (printed) from them and the GPUs seen."""
    s = settings_from(settings, **keywords)
    budget, data_root, vid4_root, out_dir, runs_dir = (s.budget, s.data_root, s.vid4_root,
                                                       s.out_dir, s.runs_dir)
    steps, argv, quiet, command, budget_reason, model = (s.steps, s.argv, s.quiet, s.command,
                                                         s.budget_reason, s.model)
    overrides = tuple(s.overrides or ())
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
    info = hardware_info or hardware.describe()
    chosen, reason = choose_budget(budget, data_root, info["gpus"])
    reason = budget_reason or reason
    vid4 = Path(vid4_root) if vid4_root else default_vid4_root()
    argv = sys.argv[1:] if argv is None else list(argv)
    if command is None:
        command = "python -m vsr_latent.paper " + " ".join(shlex.quote(a) for a in argv)
    ctx = Context(
        name=name, budget=reproduction_budget(chosen, data_root=data_root, steps=steps),
        budget_reason=reason, out_dir=Path(out_dir), runs_root=Path(runs_dir),
        data_root=data_root, vid4_root=vid4, command=command.strip(), hardware=info,
        quiet=quiet, model=model, overrides=overrides,
    )
    if shared_runs is not None:
        ctx.runs = shared_runs
    # Said even with --quiet: which budget ran is part of every result.
    print(f"[{name}] budget: {ctx.budget_label} — {reason}", flush=True)
    return ctx
