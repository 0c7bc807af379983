"""The reproduction scripts: paper numbers, results writer, budgets, one table end to end."""

import csv
import io
import json
import math
from pathlib import Path

import imageio.v3 as iio
import pytest

from vsr_latent.configs import paper_numbers as paper
from vsr_latent.errors import ConfigError
from vsr_latent.paper.reproduction_budget import choose_budget, reproduction_budget
from vsr_latent.paper.results import NOT_RUN, ResultsTable, read_results_csv

HARDWARE = {"cpu": "test", "cores": 2, "gpus": [], "tensorflow": "-", "keras": "-", "python": "-"}


# ---- the paper's numbers -------------------------------------------------------------------


def test_paper_numbers_match_spec():
    t1 = {r.key: r.values["psnr"] for r in paper.TABLE1.rows}
    assert t1 == {"normal/res16": 29.14, "normal/satn10": 29.43, "normal/latn10": 29.34,
                  "remote/res16": 27.81, "remote/satn10": 28.22, "remote/latn10": 28.51}
    assert [r.values["psnr"] for r in paper.TABLE2.rows] == [29.59, 29.7, 29.74, 29.95, 30.03]
    assert [r.values["psnr"] for r in paper.TABLE3.rows] == [29.72, 29.70, 29.87, 29.95,
                                                              None, None]
    controls = [r for r in paper.TABLE3.rows if r.key.endswith("_control")]
    assert [r.key for r in controls] == ["latn10_7_control", "satn10_7_control"]
    assert all("added by this package" in r.missing for r in controls)
    t4 = {r.key: r.values["psnr"] for r in paper.TABLE4.rows}
    assert t4 == {"bicubic": None, "srcnn": 24.68, "vsrnet": 24.73, "vespcn": 25.34,
                  "robustvsr": 25.24, "spmc": 26.02, "frvsr": 26.68, "duf16l": 26.79,
                  "ours": 26.44, paper.PRETRAINED_ROW: None}
    t5 = {r.key: r.values for r in paper.TABLE5.rows}
    assert t5["ours"] == {"params": 4108739, "seconds_per_frame": 0.063}
    assert t5["spmc"] == {"params": 1722161, "seconds_per_frame": 0.104}
    assert t5["duf16l"] == {"params": 1900640, "seconds_per_frame": 0.115}
    # Other works' numbers are quoted, never measured; ours and bicubic are measured.
    quoted = {r.key for t in (paper.TABLE4, paper.TABLE5) for r in t.rows if r.quoted}
    assert quoted == {"srcnn", "vsrnet", "vespcn", "robustvsr", "spmc", "frvsr", "duf16l"}
    assert all(not r.measure for t in paper.TABLES.values() for r in t.rows if r.quoted)
    assert len(paper.FIGURE6.rows) == 18


# ---- results writer ------------------------------------------------------------------------


def test_writer_puts_paper_beside_measured_and_labels_quoted_and_not_run(tmp_path):
    t = ResultsTable(paper.TABLE4, budget="smoke",
                     extra_metrics=(("psnr_standard", "PSNR/dB, standard protocol", ".2f"),))
    t.measure("ours", psnr=21.234567, psnr_standard=20.5, note="tiny model")
    t.meta["Command"] = "`python -m vsr_latent.paper table4`"
    md_path, csv_path = t.write(tmp_path)
    md = md_path.read_text()
    assert "NOT COMPARABLE TO THE PAPER" in md
    ours_line = next(l for l in md.splitlines() if l.startswith("| Ours"))
    assert ours_line.split("|")[2:5] == [" 26.44 ", " 21.23 ", " 20.50 "]
    srcnn = next(l for l in md.splitlines() if l.startswith("| SRCNN"))
    assert "24.68 (quoted: SRCNN [41])" in srcnn and "quoted, not measured" in srcnn
    bic = next(l for l in md.splitlines() if l.startswith("| Bicubic"))
    assert NOT_RUN in bic  # no measurement recorded -> said so, never a number
    assert "— (not in the paper)" in bic
    assert "- **Command**: `python -m vsr_latent.paper table4`" in md

    rows = {(r["row"], r["metric"]): r for r in read_results_csv(csv_path)}
    assert rows[("ours", "psnr")]["paper"] == 26.44
    assert math.isclose(rows[("ours", "psnr")]["ours"], 21.234567)  # full precision in CSV
    assert rows[("ours", "psnr")]["status"] == "measured"
    assert rows[("srcnn", "psnr")]["status"] == "quoted"
    assert rows[("srcnn", "psnr")]["ours"] is None
    assert rows[("srcnn", "psnr")]["source"] == "quoted in the paper from SRCNN [41]"
    assert rows[("bicubic", "psnr")]["status"] == NOT_RUN
    assert rows[("bicubic", "psnr")]["paper"] is None
    assert all(r["scale"] == "smoke" for r in rows.values())
    assert t.missing() == ["bicubic", paper.PRETRAINED_ROW]
    # Nothing left aside: only the two final files.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table4.csv", "table4.md"]


def test_headline_says_full_only_for_the_configs_own_settings():
    """Any user override of the settings (steps, model, data, batch) turns the "full" headline
    into "modified settings: ..." listing them; bookkeeping keys (log_every) do not."""
    from vsr_latent.paper.context import modified_settings
    from vsr_latent.paper.results import budget_label

    plain = ResultsTable(paper.TABLE1, budget="full")
    assert plain.label == "full" and "Scale: **full** (the paper's data" in plain.to_markdown()
    assert "MODIFIED" not in plain.to_markdown()
    modified = modified_settings(("stage1_steps=2", "log_every=5", "data.batch_size=4"))
    assert modified == ("stage1_steps=2", "data.batch_size=4")
    t = ResultsTable(paper.TABLE1, budget="full", modified=modified)
    t.measure("normal/res16", psnr=29.0)
    md = t.to_markdown()
    assert t.label == "modified settings: stage1_steps=2, data.batch_size=4"
    assert "Scale: **full**" not in md
    assert "Scale: **modified settings: stage1_steps=2, data.batch_size=4**" in md
    assert ("**MODIFIED SETTINGS — NOT THE PAPER'S SETUP.** The configs' own settings were "
            "changed (`--set`): `stage1_steps=2`, `data.batch_size=4`.") in md
    assert {r["scale"] for r in csv.DictReader(io.StringIO(t.to_csv()))} == {t.label}
    assert modified_settings(("log_every=5",)) == ()
    # Smoke keeps its warning and says what was changed on top of it.
    assert budget_label("smoke", ("stage1_steps=3",)) == "smoke; modified settings: stage1_steps=3"
    smoke_md = ResultsTable(paper.TABLE1, budget="smoke",
                            modified=("stage1_steps=3",)).to_markdown()
    assert "NOT COMPARABLE" in smoke_md and "`stage1_steps=3`" in smoke_md
    assert "NOT COMPARABLE" in ResultsTable(paper.TABLE1, budget="tiny").to_markdown()


def test_cpu_budget_headline_settings_runs_folder_and_control_steps(tmp_path):
    from vsr_latent.configs import CPU_DATA_ROOT
    from vsr_latent.models import model_config
    from vsr_latent.paper.context import make_context
    from vsr_latent.paper.runs import RunInfo, resolve_config
    from vsr_latent.paper.tables import _control_changes, stage2_changes

    assert choose_budget("cpu", None, [])[0] == "cpu"
    s = reproduction_budget("cpu")
    assert s.data_source == CPU_DATA_ROOT and (s.stage1_steps, s.stage2_steps) == (5_400, 150)
    assert "full-size models" in s.describe() and "cosine decay" in s.describe()
    assert "gradients clipped to global norm 1.5, charbonnier loss" in s.describe()
    assert reproduction_budget("cpu", data_root="/d").data_source == "/d"
    with pytest.raises(ConfigError, match="--steps is for --budget tiny or smoke"):
        reproduction_budget("cpu", steps=3)
    md = ResultsTable(paper.TABLE3, budget="cpu").to_markdown()
    assert "**CPU SCALE" in md and "Scale: **CPU SCALE**" in md
    ctx = make_context("table3", budget="cpu", runs_dir=tmp_path / "runs", out_dir=tmp_path,
                       hardware_info=HARDWARE, command="t")
    assert ctx.runs_dir == tmp_path / "runs" / "cpu"
    cfg = resolve_config(ctx, "table3_latn10_7")
    assert cfg.budget == "cpu" and cfg.data.source == CPU_DATA_ROOT
    assert cfg.model == model_config("latn10", seq_len=7, residual_init_scale=0.01)
    base = RunInfo("table3_latn10_7", tmp_path / "base", cfg, 1, False, 0.0)
    stage2 = resolve_config(ctx, "table3_vlatn10_7", stage2_changes(ctx, base))
    assert (stage2.stage1_steps, stage2.stage2_steps) == (0, 150)
    assert stage2.init_from == str((tmp_path / "base").resolve())
    control = resolve_config(ctx, "table3_latn10_7_control", _control_changes(ctx, base))
    assert (control.stage1_steps, control.stage2_steps) == (150, 0)
    # Continuations warm up over a tenth of their steps, not the budget's 150 (the whole run).
    assert stage2.optimizer.warmup_steps == control.optimizer.warmup_steps == 15
    assert stage2.optimizer.learning_rate == cfg.optimizer.learning_rate == 4e-4
    assert control.init_from == stage2.init_from


def test_table4_quoted_rows_say_their_sources_degradation_and_text_cites_the_paper():
    md = ResultsTable(paper.TABLE4, budget="full").to_markdown()
    frvsr = next(l for l in md.splitlines() if l.startswith("| FRVSR"))
    duf = next(l for l in md.splitlines() if l.startswith("| DUF-16L"))
    srcnn = next(l for l in md.splitlines() if l.startswith("| SRCNN"))
    assert "source's LR degradation: BD" in frvsr and "sigma 1.5" in frvsr
    assert "source's LR degradation: BD" in duf and "sigma 1.6" in duf
    assert "source's LR degradation: not stated" in srcnn
    assert "§7.2" in md and "§6.4" not in md
    assert "one GTX" not in " ".join(paper.TABLE5.notes)


def test_writer_not_run_reason_and_refuses_quoted_or_unknown():
    t = ResultsTable(paper.TABLE1, budget="full")
    t.measure("normal/res16", psnr=29.0)
    t.not_run("remote/res16", "the data API has no remote dataset")
    md = t.to_markdown()
    assert "Scale: **full**" in md and "NOT COMPARABLE" not in md
    line = next(l for l in md.splitlines() if l.startswith("| Remote | Res16"))
    assert NOT_RUN in line and "the data API has no remote dataset" in line
    assert t.missing() == ["normal/satn10", "normal/latn10", "remote/res16", "remote/satn10",
                           "remote/latn10"]
    t5 = ResultsTable(paper.TABLE5, budget="smoke")
    with pytest.raises(ConfigError, match="quotes"):
        t5.measure("spmc", params=1)
    with pytest.raises(ConfigError, match="no row"):
        t5.measure("nope", params=1)
    with pytest.raises(ConfigError, match="unknown metrics"):
        t5.measure("ours", psnr=1.0)
    t5.measure("ours", params=1234567, seconds_per_frame=0.01234)
    line = next(l for l in t5.to_markdown().splitlines() if l.startswith("| Ours"))
    assert "| 4,108,739 | 1,234,567 | 0.063 | 0.012 |" in line


# ---- budgets -------------------------------------------------------------------------------


def test_choose_budget():
    assert choose_budget(None, "/data", ["NVIDIA H100"])[0] == "full"
    s, why = choose_budget(None, None, ["NVIDIA H100"])
    assert s == "smoke" and "no --data_root" in why
    s, why = choose_budget(None, "/data", [])
    assert s == "smoke" and "no GPU" in why
    assert choose_budget(None, None, [])[0] == "smoke"
    assert choose_budget("smoke", "/data", ["gpu"])[0] == "smoke"
    assert choose_budget("tiny", None, [])[0] == "tiny"
    assert choose_budget("full", "/data", [])[0] == "full"  # explicit full on a CPU is allowed
    with pytest.raises(ConfigError, match="--data_root"):
        choose_budget("full", None, ["gpu"])
    with pytest.raises(ConfigError, match="unknown budget"):
        choose_budget("medium", None, [])


def test_reproduction_budget_steps_and_data_root():
    from vsr_latent.configs import get_config

    smoke = reproduction_budget("smoke", data_root="/ignored", steps=7)
    assert (smoke.stage1_steps, smoke.stage2_steps, smoke.single_stage_steps) == (7, 3, 7)
    one_stage, two_stages = get_config("table1_res16", smoke), get_config("ours", smoke)
    assert (one_stage.stage1_steps, one_stage.stage2_steps) == (7, 0)
    assert (two_stages.stage1_steps, two_stages.stage2_steps) == (7, 3)
    assert one_stage.data.source == two_stages.data.source == "builtin"
    full = reproduction_budget("full", data_root="/data/vsr")
    assert full.val_max_clips is None and full.vid4_crop is None
    ours = get_config("ours", full)
    assert ours.data.source == "/data/vsr"
    assert (ours.stage1_steps, ours.stage2_steps) == (200_000, 50_000)


@pytest.mark.parametrize("budget", ["tiny", "smoke", "cpu"])
def test_a_budget_gives_the_same_configs_to_train_and_to_the_reproduction(budget, tmp_path,
                                                                           capsys):
    """``vsr-latent train --budget B`` and ``python -m vsr_latent.paper --budget B`` train the
    same configs (the old name --scale too)."""
    import json

    from vsr_latent.cli import main as vsr_latent_main
    from vsr_latent.configs import get_config
    from vsr_latent.paper.context import make_context
    from vsr_latent.paper.runs import resolve_config

    ctx = make_context("table1", budget=budget, runs_dir=tmp_path, out_dir=tmp_path,
                       hardware_info=HARDWARE, command="t", quiet=True)
    for name in ("table1_res16", "ours", "table3_vlatn10_7"):
        config = get_config(name, budget=budget)
        assert resolve_config(ctx, name) == config
        for option in ("--budget", "--scale"):
            capsys.readouterr()
            assert vsr_latent_main(["train", "--config", name, option, budget,
                                    "--describe"]) == 0
            out = capsys.readouterr().out
            assert json.loads(out[out.index("\n{") + 1:]) == json.loads(config.to_json())


def test_the_tiny_and_smoke_budgets_are_what_the_tests_and_quickstart_need():
    from vsr_latent.configs import get_config

    # tiny: the tests' few steps at 8x8 LR patches.
    tiny = get_config("table1_latn10", budget="tiny")
    assert (tiny.stage1_steps, tiny.stage2_steps, tiny.data.lr_patch) == (6, 0, 8)
    assert (tiny.data.batch_size, tiny.model.filters, tiny.optimizer.learning_rate) == (2, 8, 1e-4)
    tiny_v = get_config("table3_vlatn10_7", budget="tiny")
    assert (tiny_v.stage1_steps, tiny_v.stage2_steps, tiny_v.init_from) == (3, 3, None)
    # smoke: quickstart's 100 steps (35 more in stage 2) at 16x16 with learning rate 1e-3.
    smoke = get_config("table1_latn10", budget="smoke")
    assert (smoke.stage1_steps, smoke.stage2_steps, smoke.data.lr_patch) == (100, 0, 16)
    assert (smoke.data.batch_size, smoke.model.filters, smoke.optimizer.learning_rate) == (
        2, 8, 1e-3)
    assert (smoke.log_every, smoke.checkpoint_every, smoke.image_every) == (10, 1000, 100_000)
    ours = get_config("ours", budget="smoke")
    assert (ours.stage1_steps, ours.stage2_steps, ours.data.source) == (100, 35, "builtin")
    assert (reproduction_budget("smoke").val_max_clips == 1
            and reproduction_budget("tiny").val_max_clips == 2)


# ---- scripts -------------------------------------------------------------------------------


def test_scripts_are_thin_wrappers():
    from vsr_latent.paper import NAMES
    from vsr_latent.paths import REPO_ROOT

    for name in NAMES + ("all",):
        script = REPO_ROOT / "reproduce" / f"{name}.sh"
        text = script.read_text()
        assert script.stat().st_mode & 0o111, f"{script} is not executable"
        assert f'exec python -m vsr_latent.paper {name} "$@"' in text


def test_run_folder_with_other_settings_is_not_reused(tmp_path):
    from vsr_latent.configs import get_config
    from vsr_latent.paper.runs import run_is_complete

    cfg = get_config("table1_res16", budget="smoke")
    run = tmp_path / "table1_res16"
    assert not run_is_complete(run, cfg)  # nothing there yet
    run.mkdir()
    (run / "config.json").write_text(cfg.to_json())
    assert not run_is_complete(run, cfg)  # same config, unfinished: training resumes it
    (run / "model.keras").write_bytes(b"")
    assert run_is_complete(run, cfg)
    other = get_config("table1_res16", budget="smoke", overrides=["stage1_steps=99"])
    with pytest.raises(ConfigError, match="stage1_steps"):
        run_is_complete(run, other)


def test_a_run_folder_of_an_older_version_is_reused(tmp_path):
    """config.json of older versions: the model as a registry name with seq_len and
    model_overrides beside it, the budget as scale, the paper's numbers in paper_psnr."""
    import json

    from vsr_latent.configs import get_config
    from vsr_latent.paper.runs import run_is_complete

    cfg = get_config("ours", budget="smoke")
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("model", "budget")}
    old.update(model="ours", seq_len=7, model_overrides={"filters": 8}, scale="smoke",
               paper_psnr={"vid4": 26.44})
    run = tmp_path / "ours"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(old))
    (run / "model.keras").write_bytes(b"")
    assert run_is_complete(run, cfg)
    (run / "config.json").write_text(json.dumps({**old, "seq_len": 5}))
    with pytest.raises(ConfigError, match="differs in model"):
        run_is_complete(run, cfg)


def _fake_finished_run(run_dir, config):
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(config.to_json())
    (run_dir / "model.keras").write_bytes(b"")


def test_table3_reuses_figure6_runs_and_runs_under_their_own_name(tmp_path):
    from vsr_latent.paper.context import make_context
    from vsr_latent.paper.runs import ensure_run, resolve_config

    def ctx():
        return make_context("table3", budget="smoke", runs_dir=tmp_path / "runs",
                            out_dir=tmp_path, hardware_info=HARDWARE, quiet=True)

    c = ctx()
    fig6 = tmp_path / "runs" / "smoke" / "figure6_latn10_n7"
    _fake_finished_run(fig6, resolve_config(c, "figure6_latn10_n7"))
    run = ensure_run(c, "table3_latn10_7")  # no training: Figure 6's n = 7 run is the same model
    assert run.run_dir == fig6 and not run.trained_now
    own = tmp_path / "runs" / "smoke" / "table3_latn10_7"
    c = ctx()
    _fake_finished_run(own, resolve_config(c, "table3_latn10_7"))
    assert ensure_run(c, "table3_latn10_7").run_dir == own


def test_failed_rows_are_written_as_not_run_and_exit_nonzero(tmp_path, monkeypatch, capsys):
    from vsr_latent.errors import TrainingError
    from vsr_latent.paper import tables
    from vsr_latent.paper.runner import main

    def broken(ctx, name, changes=None):
        raise TrainingError(f"{name}: loss is NaN at step 3\n(the last good checkpoint is kept)")

    monkeypatch.setattr(tables, "ensure_run", broken)
    out = tmp_path / "results"
    assert main(["table2", "--scale", "smoke", "--out", str(out), "--runs",
                 str(tmp_path / "runs"), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "5 row(s) failed" in captured.err
    assert "[table2] budget: smoke — --budget smoke was given" in captured.out
    rows = read_results_csv(out / "table2.csv")
    assert [r["status"] for r in rows] == ["not run"] * 5
    assert all(r["ours"] is None for r in rows)
    assert rows[0]["note"] == ("failed while training table2_lsatn_x: TrainingError: (the last "
                               "good checkpoint is kept)")


# ---- one table end to end (smoke budget, CPU) ----------------------------------------------


@pytest.mark.slow  # minutes on a 2-core CPU: .ci/run runs the slow checks too
def test_table5_end_to_end_smoke(tmp_path, vid4_gt, capsys):
    """Trains the final model for a few steps, times it on (cut) Vid4, writes the table; a
    second invocation reuses the finished run instead of training again."""
    from vsr_latent.cli import main as vsr_latent_main
    from vsr_latent.models import build_model, count_params
    from vsr_latent.paper.runner import main

    out, runs = tmp_path / "results", tmp_path / "runs"
    # First through `vsr-latent quickstart` (the README's first command), limited to Table 5.
    assert vsr_latent_main(["quickstart", "--only", "table5", "--steps", "2", "--out", str(out),
                            "--runs", str(runs), "--vid4_root", str(vid4_gt.parent)]) == 0
    printed = capsys.readouterr().out
    assert "SMOKE scale" in printed and f"{out}/table5.md" in printed
    assert f"Real rows: {out}/table5.md row '{paper.PRETRAINED_LABEL}'" in printed
    rows = {(r["row"], r["metric"]): r for r in read_results_csv(out / "table5.csv")}
    # Every row the package measures has a number; quoted rows are labelled and have none.
    for r in paper.TABLE5.rows:
        for metric in ("params", "seconds_per_frame"):
            row = rows[(r.key, metric)]
            if r.measure:
                assert row["status"] == "measured" and row["ours"] is not None, row
            else:
                assert row["status"] == "quoted" and row["ours"] is None
    # The parameter count is the trained model's, counted independently here.
    expected = count_params(build_model("ours", seq_len=7, filters=8))
    assert rows[("ours", "params")]["ours"] == expected
    assert 0 < rows[("ours", "seconds_per_frame")]["ours"] < 60
    md = (out / "table5.md").read_text()
    assert "SMOKE SCALE" in md and "trained now" in md
    # The shipped model's row is timed on whole Vid4 frames, and the table says it is no smoke.
    assert f"{paper.PRETRAINED_LABEL} is the exception to the scale warning above" in md
    assert "- **Command**: `vsr-latent quickstart --out" in md
    assert "**Hardware**: CPU:" in md and "**Timing device**: CPU:" in md
    assert (runs / "smoke" / "ours" / "model.keras").is_file()

    argv = ["table5", "--budget", "smoke", "--steps", "2", "--out", str(out), "--runs", str(runs),
            "--vid4_root", str(vid4_gt.parent), "--quiet"]
    assert main(argv) == 0  # reuses the finished run
    md2 = (out / "table5.md").read_text()
    assert "reused (already complete)" in md2 and "trained now" not in md2


@pytest.mark.slow  # minutes on a 2-core CPU: .ci/run runs the slow checks too
def test_figure7_8_end_to_end_tiny(tmp_path, vid4_gt):
    """Figures 7 and 8 are made, not written as 'not run': Figure 8 trains the stage-2 model
    from Table 3's stage-1 run, which goes through the tables' stage-2 changes."""
    from vsr_latent.paper.runner import main

    out, runs = tmp_path / "results", tmp_path / "runs"
    argv = ["figure7_8", "--budget", "tiny", "--out", str(out), "--runs", str(runs),
            "--vid4_root", str(vid4_gt.parent), "--quiet"]
    assert main(argv) == 0
    md = (out / "figure7_8.md").read_text()
    assert "not made" not in md and "not run" not in md, md
    for name in ("figure7.png", "figure8.png"):
        assert iio.imread(out / name).ndim == 3
    stage2 = json.loads((runs / "tiny" / "table3_vsatn10_7" / "config.json").read_text())
    # Stage 2 only, from the finished stage-1 run (Table 3's Satn10_7, or Figure 6's same run).
    assert stage2["stage1_steps"] == 0 and stage2["stage2_steps"] > 0
    assert (Path(stage2["init_from"]) / "model.keras").is_file()


@pytest.mark.slow  # about a minute: trains the tiny final model for Table 4's own row
def test_tables_4_and_5_measure_the_shipped_model(tmp_path, vid4_gt):
    """The shipped ours_cpu row: a real model scored on Vid4 (here as the tiny budget cuts it) in
    the inference default precision; its standard-protocol PSNR recomputed by hand from the
    model's own frames (BT.601 luma, 10 log10(255^2 / MSE), mean of per-sequence means)."""
    import numpy as np

    from vsr_latent.models import count_params
    from vsr_latent.paper.context import make_context
    from vsr_latent.paper.measure import vid4_data
    from vsr_latent.paper.runner import main
    from vsr_latent.precision import resolve_precision
    from vsr_latent.serving.loading import load_predictor
    from vsr_latent.serving.predictors import upscale_sequence

    out, runs = tmp_path / "results", tmp_path / "runs"
    for table in ("table4", "table5"):  # Table 5 reuses Table 4's run of the final model
        assert main([table, "--budget", "tiny", "--out", str(out), "--runs", str(runs),
                     "--vid4_root", str(vid4_gt.parent), "--quiet"]) == 0
    t4 = {(r["row"], r["metric"]): r for r in read_results_csv(out / "table4.csv")}
    t5 = {(r["row"], r["metric"]): r for r in read_results_csv(out / "table5.csv")}
    row = paper.PRETRAINED_ROW
    assert t4[(row, "psnr")]["status"] == "measured" and t4[(row, "psnr")]["paper"] is None
    assert "REAL" in t4[(row, "psnr")]["note"]

    predictor = load_predictor(row, precision=resolve_precision("auto"))
    ctx = make_context("table4", budget="tiny", vid4_root=str(vid4_gt.parent),
                       hardware_info=HARDWARE, quiet=True)
    per_sequence = []
    for _, lr, gt in vid4_data(ctx):
        sr = np.clip(np.round(upscale_sequence(predictor, lr.astype(np.float32))), 0, 255)
        w = np.array([65.481, 128.553, 24.966]) / 255.0
        ys, yg = 16 + sr @ w, 16 + gt.astype(np.float64) @ w
        mse = ((ys - yg) ** 2).reshape(len(gt), -1).mean(axis=1)
        per_sequence.append(np.mean(10 * np.log10(255.0 ** 2 / mse)))
    assert t4[(row, "psnr_standard")]["ours"] == pytest.approx(np.mean(per_sequence), abs=1e-6)
    # A trained model beats bicubic even on the cut frames; Table 5 counts its own weights.
    assert t4[(row, "psnr_standard")]["ours"] > t4[("bicubic", "psnr_standard")]["ours"]
    assert t5[(row, "params")]["ours"] == count_params(predictor.model)
    assert 0 < t5[(row, "seconds_per_frame")]["ours"] < 60
    assert "REAL" in (out / "table5.md").read_text()
    # The tiny budget scores it on its own cut, so no exception to the scale warning is noted.
    assert "is the exception to the scale warning" not in (out / "table4.md").read_text()


@pytest.mark.slow
def test_table1_full_scale_path_on_a_tiny_dataset_root(tmp_path, carphone):
    """The full-scale path (dataset root made by data_tools, Remote key frames from
    select_remote) with training shortened by --set, on a CPU."""
    from data_tools.make_dataset import main as make_dataset
    from data_tools.select_remote import main as select_remote
    from vsr_latent.paper.runner import main

    src = tmp_path / "src"
    src.mkdir()
    (src / carphone.name).symlink_to(carphone)
    root = tmp_path / "root"
    make_dataset([str(src), str(root), "--clip_len", "21", "--num_train", "1", "--num_val", "1",
                  "--no_progress"])
    select_remote([str(root), "--motion_threshold", "0", "--scene_threshold", "0",
                   "--no_progress"])
    out, runs = tmp_path / "results", tmp_path / "runs"
    argv = ["table1", "--budget", "full", "--data_root", str(root), "--out", str(out),
            "--runs", str(runs), "--quiet", "--set", "stage1_steps=2",
            "--set", "model.filters=8", "--set", "data.lr_patch=8",
            "--set", "data.batch_size=2"]
    assert main(argv) == 0
    rows = {r["row"]: r for r in read_results_csv(out / "table1.csv")}
    # --set changed steps, model, data and batch: headlined as modified, never as "full".
    label = ("modified settings: stage1_steps=2, model.filters=8, data.lr_patch=8, "
             "data.batch_size=2")
    assert all(r["status"] == "measured" and r["scale"] == label for r in rows.values())
    assert all(0 < r["ours"] < 60 for r in rows.values())  # 2 steps: a number, not a good one
    md = (out / "table1.md").read_text()
    assert "Scale: **full**" not in md and f"Scale: **{label}**" in md
    assert "MODIFIED SETTINGS" in md and f"dataset root `{root}`" in md
    assert (runs / "table1_latn10" / "model.keras").is_file()  # full runs: runs/<config>/


def test_figure7_attention_weights_reproduce_the_blocks_own_output():
    """The weights Figure 7 draws, times the block's values, give the block's latent attention z
    (eq. 10) as the model itself computes it."""
    import numpy as np
    import tensorflow as tf

    from vsr_latent.layers.shapes import pad_spatial, pool_spatial
    from vsr_latent.models import build_model
    from vsr_latent.paper.attention_figures import _block_input, long_attention_weights

    model = build_model("latn10", seq_len=3, filters=8, num_layers=5)
    frames = np.random.default_rng(0).uniform(0, 255, (3, 12, 16, 3)).astype(np.float32)
    weights, q_grid, k_grid = long_attention_weights(model, frames, block_index=0)
    assert weights.shape == (np.prod(q_grid), np.prod(k_grid))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    _, info = model.call_with_attention(frames[None], training=False)
    block = model.attention[0]
    x = _block_input(model, tf.convert_to_tensor(frames[None]), block)
    g = pool_spatial(block.g(block._embed(pad_spatial(x)))).numpy().reshape(-1, block.inner_filters)
    z = np.asarray(info["z"][0])[0]
    np.testing.assert_allclose((weights @ g).reshape(z.shape), z, rtol=1e-4, atol=1e-5)


def test_figures_7_8_feed_the_models_own_training_degradation(tmp_path):
    """A model trained on "scipy" LR frames is shown "scipy" LR frames: the degradation comes
    from its run folder's config.json, else from its config."""
    import json
    from types import SimpleNamespace

    import numpy as np

    from vsr_latent.data.degrade import degrade
    from vsr_latent.data.video_io import to_uint8
    from vsr_latent.paper.attention_figures import _clip
    from vsr_latent.paper.runs import training_degradation

    (tmp_path / "config.json").write_text(json.dumps({"data": {"degradation": "scipy"}}))
    assert training_degradation(tmp_path, "bi") == "scipy"
    assert training_degradation(tmp_path / "missing", "bi") == "bi"
    ctx = SimpleNamespace(vid4_root=None, budget=SimpleNamespace(name="smoke"))
    name, lr, gt = _clip(ctx, 3, "scipy")
    assert "'scipy'" in name and lr.shape[0] == 3
    np.testing.assert_array_equal(lr, to_uint8(degrade(gt, "scipy", 4)))
    assert not np.array_equal(lr, to_uint8(degrade(gt, "bi", 4)))


def test_figure9_png_layout_and_bicubic_psnr_is_the_package_metric(tmp_path):
    """Figure 9 on a cut Vid4 (built-in frames under the four Vid4 names) with a tiny .keras
    model: the PNG has one row of bicubic / ours / GT crops per sequence, and the PSNR printed
    under the bicubic crop is the package's metric computed directly."""
    import csv as csv_mod

    import imageio.v3 as iio
    import numpy as np
    from PIL import Image

    from vsr_latent import metrics
    from vsr_latent.data.builtin import builtin_clips
    from vsr_latent.data.degrade import degrade
    from vsr_latent.data.vid4 import VID4_SEQUENCES
    from vsr_latent.data.video_io import to_uint8
    from vsr_latent.models import build_model
    from vsr_latent.paper import figure9
    from vsr_latent.paper.runner import main
    from vsr_latent.serving.loading import load_predictor

    root = tmp_path / "Vid4"
    clips = builtin_clips(4, 5, (64, 64), seed=2, split="validation")
    for name, clip in zip(VID4_SEQUENCES, clips):
        d = root / "GT" / name
        d.mkdir(parents=True)
        for t, frame in enumerate(clip):
            iio.imwrite(d / f"{t:08d}.png", frame)
    keras_path = tmp_path / "tiny" / "tiny.keras"
    keras_path.parent.mkdir()
    build_model("ours", seq_len=3, filters=8).save(keras_path)
    out = tmp_path / "results"
    assert main(["figure9", "--budget", "smoke", "--model", str(keras_path), "--vid4_root",
                 str(root), "--out", str(out), "--quiet"]) == 0
    png = out / "figure9.png"
    width, height = Image.open(png).size
    # 3 crops of 64 px and 4 gaps across; 4 rows of title + crop + label, 5 gaps down.
    assert (width, height) == figure9.layout_size(4, (64, 64)) == (
        3 * 64 + 4 * figure9.GAP, 4 * (figure9.TITLE_H + 64 + figure9.LABEL_H) + 5 * figure9.GAP)
    with open(out / "figure9.csv", encoding="utf-8") as f:
        rows = list(csv_mod.DictReader(f))
    assert [r["sequence"] for r in rows if r["column"] == "Bicubic"] == list(VID4_SEQUENCES)
    bicubic = load_predictor("bicubic")
    for name, clip in zip(VID4_SEQUENCES, clips):
        row = next(r for r in rows if r["sequence"] == name and r["column"] == "Bicubic")
        t = int(row["frame"])
        assert t == 2  # the middle frame
        lr = to_uint8(degrade(clip, "bi", 4)).astype(np.float32)  # no config.json: Vid4's BI
        direct = metrics.psnr(to_uint8(bicubic(lr[t:t + 1])[0]), clip[t], crop_border=8,
                              y_channel=True)
        assert float(row["psnr_y"]) == pytest.approx(direct, abs=1e-9)
        assert figure9.psnr_label("Bicubic", float(row["psnr_y"])) == f"Bicubic {direct:.2f} dB"
        assert f"| {name} | 2 | {direct:.2f} |" in (out / "figure9.md").read_text()
    ours = [float(r["psnr_y"]) for r in rows if r["column"] == "Ours"]
    assert len(ours) == 4 and all(np.isfinite(ours))
    # A model whose run folder says it was trained on "scipy" LR frames is shown those.
    (keras_path.parent / "config.json").write_text('{"data": {"degradation": "scipy"}}')
    assert main(["figure9", "--budget", "smoke", "--model", str(keras_path), "--vid4_root",
                 str(root), "--out", str(out), "--quiet"]) == 0
    assert "LR frames by 'scipy'" in (out / "figure9.md").read_text()

