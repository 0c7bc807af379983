"""The reproduction scripts: paper numbers, results writer, scale selection, one table end to end."""

import math

import pytest

from vsr_latent.errors import ConfigError
from vsr_latent.reproduce import paper
from vsr_latent.reproduce.results import NOT_RUN, ResultsTable, read_results_csv
from vsr_latent.reproduce.scale import choose_scale, settings_for


# ---- the paper's numbers -------------------------------------------------------------------


def test_paper_numbers_match_spec():
    t1 = {r.key: r.values["psnr"] for r in paper.TABLE1.rows}
    assert t1 == {"normal/res16": 29.14, "normal/satn10": 29.43, "normal/latn10": 29.34,
                  "remote/res16": 27.81, "remote/satn10": 28.22, "remote/latn10": 28.51}
    assert [r.values["psnr"] for r in paper.TABLE2.rows] == [29.59, 29.7, 29.74, 29.95, 30.03]
    assert [r.values["psnr"] for r in paper.TABLE3.rows] == [29.72, 29.70, 29.87, 29.95]
    t4 = {r.key: r.values["psnr"] for r in paper.TABLE4.rows}
    assert t4 == {"bicubic": None, "srcnn": 24.68, "vsrnet": 24.73, "vespcn": 25.34,
                  "robustvsr": 25.24, "spmc": 26.02, "frvsr": 26.68, "duf16l": 26.79,
                  "ours": 26.44}
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
    t = ResultsTable(paper.TABLE4, scale="smoke",
                     extra_metrics=(("psnr_standard", "PSNR/dB, standard protocol", ".2f"),))
    t.measure("ours", psnr=21.234567, psnr_standard=20.5, note="tiny model")
    t.meta["Command"] = "`python -m vsr_latent.reproduce table4`"
    md_path, csv_path = t.write(tmp_path)
    md = md_path.read_text()
    assert "NOT COMPARABLE TO THE PAPER" in md
    ours_line = next(l for l in md.splitlines() if l.startswith("| Ours"))
    assert ours_line.split("|")[2:5] == [" 26.44 ", " 21.23 ", " 20.50 "]
    srcnn = next(l for l in md.splitlines() if l.startswith("| SRCNN"))
    assert "24.68 (quoted: SRCNN [41])" in srcnn and "quoted, not measured" in srcnn
    bic = next(l for l in md.splitlines() if l.startswith("| Bicubic"))
    assert NOT_RUN in bic  # no measurement recorded -> said so, never a number
    assert "- **Command**: `python -m vsr_latent.reproduce table4`" in md

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
    assert t.missing() == ["bicubic"]
    # Nothing left aside: only the two final files.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table4.csv", "table4.md"]


def test_writer_not_run_reason_and_refuses_quoted_or_unknown():
    t = ResultsTable(paper.TABLE1, scale="full")
    t.measure("normal/res16", psnr=29.0)
    t.not_run("remote/res16", "the data API has no remote dataset")
    md = t.to_markdown()
    assert "Scale: **full**" in md and "NOT COMPARABLE" not in md
    line = next(l for l in md.splitlines() if l.startswith("| Remote | Res16"))
    assert NOT_RUN in line and "the data API has no remote dataset" in line
    assert t.missing() == ["normal/satn10", "normal/latn10", "remote/res16", "remote/satn10",
                           "remote/latn10"]
    t5 = ResultsTable(paper.TABLE5, scale="smoke")
    with pytest.raises(ConfigError, match="quotes"):
        t5.measure("spmc", params=1)
    with pytest.raises(ConfigError, match="no row"):
        t5.measure("nope", params=1)
    with pytest.raises(ConfigError, match="unknown metrics"):
        t5.measure("ours", psnr=1.0)
    t5.measure("ours", params=1234567, seconds_per_frame=0.01234)
    line = next(l for l in t5.to_markdown().splitlines() if l.startswith("| Ours"))
    assert "| 4,108,739 | 1,234,567 | 0.063 | 0.012 |" in line


# ---- scale selection -----------------------------------------------------------------------


def test_choose_scale():
    assert choose_scale(None, "/data", ["NVIDIA H100"])[0] == "full"
    s, why = choose_scale(None, None, ["NVIDIA H100"])
    assert s == "smoke" and "no --data_root" in why
    s, why = choose_scale(None, "/data", [])
    assert s == "smoke" and "no GPU" in why
    assert choose_scale(None, None, [])[0] == "smoke"
    assert choose_scale("smoke", "/data", ["gpu"])[0] == "smoke"
    assert choose_scale("full", "/data", [])[0] == "full"  # explicit full on a CPU is allowed
    with pytest.raises(ConfigError, match="--data_root"):
        choose_scale("full", None, ["gpu"])
    with pytest.raises(ConfigError, match="unknown scale"):
        choose_scale("medium", None, [])


def test_scale_settings():
    from types import SimpleNamespace

    smoke = settings_for("smoke", steps=7)
    assert smoke.stage1_steps == 7 and smoke.stage2_steps == 3
    one_stage = SimpleNamespace(stage1_steps=200_000, stage2_steps=0)
    two_stage = SimpleNamespace(stage1_steps=200_000, stage2_steps=50_000)
    assert smoke.overrides_for(one_stage)[:1] == ["stage1_steps=7"]
    assert smoke.overrides_for(two_stage)[:2] == ["stage1_steps=7", "stage2_steps=3"]
    assert not any(o.startswith("data.source") for o in smoke.overrides_for(two_stage))
    full = settings_for("full", data_root="/data/vsr")
    assert full.overrides_for(two_stage) == ["data.source=/data/vsr"]
    assert full.val_max_clips is None and full.vid4_crop is None
