"""Experiment configs: every named config, the paper's numbers, budgets, overrides and their
errors, the JSON form (older run folders' too)."""

import json
import re

import pytest

from vsr_latent import cli
from vsr_latent.configs import (
    CONFIG_NAMES,
    DEFAULT_AUGMENTATION,
    DEFAULT_STAGE2_STEPS,
    DEFAULT_TRAIN_STEPS,
    apply_overrides,
    config_from_dict,
    describe,
    get_budget,
    get_config,
    paper_psnr,
)
from vsr_latent.errors import ConfigError
from vsr_latent.models import MODEL_NAMES, model_config, registry_changes

EXPECTED = {
    # name: (model, seq_len, paper PSNR on Normal / Vid4)
    "table1_res16": ("res16", 4, 29.14),
    "table1_satn10": ("satn10", 4, 29.43),
    "table1_latn10": ("latn10", 4, 29.34),
    "table2_lsatn_x": ("lsatn_x", 7, 29.59),
    "table2_lsatn_s": ("lsatn_s", 7, 29.95),
    "table2_lsatn_l": ("lsatn_l", 7, 29.7),
    "table2_lsatn_sl": ("lsatn_sl", 7, 29.74),
    "table2_lsatn_ls": ("lsatn_ls", 7, 30.03),
    "table3_latn10_7": ("latn10", 7, 29.72),
    "table3_satn10_7": ("satn10", 7, 29.70),
    "table3_vlatn10_7": ("vlatn10", 7, 29.87),
    "table3_vsatn10_7": ("vsatn10", 7, 29.95),
    "ours": ("ours", 7, 26.44),
}


def test_every_paper_model_has_a_config():
    for name, (model, seq_len, psnr) in EXPECTED.items():
        c = get_config(name)
        # The registry's architecture at the experiment's L, nothing else changed.
        assert c.model == model_config(model, seq_len=seq_len), name
        assert psnr in paper_psnr(name).values(), name
        assert c.model.name in MODEL_NAMES
    assert paper_psnr("table1_res16") == {"normal": 29.14, "remote": 27.81}
    assert paper_psnr("table1_latn10")["remote"] == 28.51
    assert paper_psnr("ours") == {"vid4": 26.44}
    for model in ("latn10", "satn10"):
        for n in range(3, 12):
            c = get_config(f"figure6_{model}_n{n}")
            assert c.model == model_config(model, seq_len=n)
            assert paper_psnr(f"figure6_{model}_n{n}") == {}  # lost with the figure
    # 13 named models + 2 Table 3 controls + 18 of Fig. 6 + the smoke alias.
    assert len(CONFIG_NAMES) == 13 + 2 + 18 + 1


def test_table3_controls_have_the_v_rows_steps_on_l_re_only():
    for base, v in (("latn10_7", "vlatn10_7"), ("satn10_7", "vsatn10_7")):
        control, variational = get_config(f"table3_{base}_control"), get_config(f"table3_{v}")
        assert control.init_from == variational.init_from == f"runs/table3_{base}"
        assert control.stage1_steps == variational.stage2_steps == DEFAULT_STAGE2_STEPS
        assert control.stage2_steps == 0 and not control.model.variational
        assert control.model == get_config(f"table3_{base}").model
        assert paper_psnr(f"table3_{base}_control") == {}
        assert "not in the paper" in describe(f"table3_{base}_control")


@pytest.mark.parametrize("name", [n for n in CONFIG_NAMES if n != "smoke"])
def test_docstring_says_what_number_runtime_and_command(name):
    doc = describe(name)
    assert f"vsr-latent train --config {name}" in doc
    assert "Paper:" in doc and "Runtime:" in doc
    if name in EXPECTED:
        assert f"{EXPECTED[name][2]:.2f} dB" in doc
    assert "{" not in doc.split("Command:")[0]  # every number filled in
    # The steps the docstring announces are the config's.
    announced = re.search(r"Runtime: ([\d ,]+) steps", doc).group(1)
    assert int(re.sub(r"[ ,]", "", announced)) == get_config(name).total_steps


def test_optimiser_follows_section_7():
    o = get_config("ours").optimizer
    assert (o.learning_rate, o.beta_1, o.beta_2, o.global_clipnorm) == (1e-4, 0.9, 0.999, 3.0)


def test_stages_follow_algorithm_1():
    # Two stages exactly for the models with variance heads, stage 1 only for the others.
    for name in CONFIG_NAMES:
        c = get_config(name)
        assert (c.stage2_steps > 0) == c.model.variational, name
    v = get_config("table3_vlatn10_7")
    assert (v.stage1_steps, v.stage2_steps, v.init_from) == (
        0, DEFAULT_STAGE2_STEPS, "runs/table3_latn10_7")
    assert get_config("table3_vsatn10_7").init_from == "runs/table3_satn10_7"
    assert get_config("table3_latn10_7").stage1_steps == DEFAULT_TRAIN_STEPS
    ours = get_config("ours")
    assert ours.stage1_steps > 0 and ours.stage2_steps > 0 and ours.init_from is None


def test_stage2_runs_one_sampled_pass_by_default_and_two_passes_by_name():
    """§5.3: L_re and L_vae on one sampled pass; the two-pass reading is a named choice, kept
    by the cpu budget (the shipped ours_cpu) and by run folders written before the setting."""
    from vsr_latent.configs.base import DEFAULT_STAGE2_FORWARD, STAGE2_FORWARDS

    assert DEFAULT_STAGE2_FORWARD == "one_pass" and STAGE2_FORWARDS == ("one_pass", "two_pass")
    for name in CONFIG_NAMES:
        assert get_config(name).stage2_forward == "one_pass", name
    for budget in ("tiny", "smoke", "rehearsal"):
        assert get_config("ours", budget=budget).stage2_forward == "one_pass", budget
    assert get_config("ours", budget="cpu").stage2_forward == "two_pass"
    assert "stage 2 two-pass" in get_budget("cpu").describe()
    assert get_config("ours", overrides=["stage2_forward=two_pass"]).stage2_forward == "two_pass"
    with pytest.raises(ConfigError, match="stage2_forward must be one of one_pass, two_pass, "
                                          "got 'twice'"):
        get_config("ours", overrides=["stage2_forward=twice"])
    old = json.loads(get_config("ours", budget="cpu").to_json())
    del old["stage2_forward"]
    assert config_from_dict(old).stage2_forward == "two_pass"


def test_augmentation_default_is_the_data_pipelines():
    import inspect

    from vsr_latent.configs.base import AUGMENTATIONS
    from vsr_latent.data import pipelines, transforms

    assert inspect.signature(pipelines.train_dataset).parameters["augment"].default == (
        DEFAULT_AUGMENTATION)
    assert inspect.signature(transforms.augment).parameters["augmentations"].default == (
        DEFAULT_AUGMENTATION)
    assert set(get_config("ours").data.augmentation) <= set(AUGMENTATIONS)


def test_the_pipeline_checks_augmentation_as_the_config_does():
    """One check, naming the config field: unknown names, and transpose on non-square crops."""
    from vsr_latent.data import pipelines

    with pytest.raises(ConfigError, match=r"^data\.augmentation: unknown 'rotate'; known: hflip, "
                                          r"reverse, vflip, transpose \(or none\)$"):
        pipelines.train_dataset("builtin", seq_len=3, lr_size=(8, 8), batch_size=2,
                                augment=("hflip", "rotate"))
    with pytest.raises(ConfigError, match=r"data\.augmentation: 'transpose' needs square crops, "
                                          r"got LR size \(8, 12\)"):
        pipelines.train_dataset("builtin", seq_len=3, lr_size=(8, 12), batch_size=2,
                                augment=("transpose",))
    with pytest.raises(ConfigError, match=r"^data\.augmentation: unknown 'rotate'"):
        get_config("ours", overrides=["data.augmentation=hflip,rotate"])


def test_budgets():
    c = get_config("table3_vlatn10_7", budget="tiny")
    assert c.budget == "tiny" and c.data.source == "builtin"
    assert c.init_from is None and (c.stage1_steps, c.stage2_steps) == (3, 3)
    assert c.data.lr_patch == 8 and c.data.batch_size == 2
    # The model and L are kept; the network is narrowed.
    assert c.model == model_config("vlatn10", seq_len=7, filters=8)
    s = get_config("smoke")
    assert s.model.name == "ours" and s.budget == "tiny"
    assert get_config("smoke", budget="smoke").budget == "smoke"
    full = get_config("ours", budget="full")
    assert full == get_config("ours") and full.budget == "full"
    with pytest.raises(ConfigError, match="known budgets: full, tiny, smoke, rehearsal, cpu"):
        get_config("ours", budget="huge")


def test_a_budget_sets_augmentation_and_clipping():
    from vsr_latent.configs.budgets import Budget, apply_budget

    b = Budget("x", "test", settings={"data.augmentation": ("vflip", "transpose"),
                                      "optimizer.global_clipnorm": 0.25})
    c = apply_budget(get_config("ours"), b)
    assert c.data.augmentation == ("vflip", "transpose") and c.optimizer.global_clipnorm == 0.25
    assert "augmentation vflip+transpose" in b.describe()
    assert "gradients clipped to global norm 0.25" in b.describe()
    # Unset, a budget keeps the config's own.
    kept = apply_budget(get_config("ours"), Budget("y", "test"))
    assert kept.data.augmentation == DEFAULT_AUGMENTATION and kept.optimizer.global_clipnorm == 3.0
    assert apply_budget(get_config("ours"), Budget("z", "test", settings={
        "data.augmentation": ()})).data.augmentation == ()


def test_overrides_are_typed():
    c = get_config(
        "table1_latn10",
        overrides=[
            "data.batch_size=8",
            "optimizer.learning_rate=2e-4",
            "stage1_steps=1e3",
            "init_from=runs/x",
            "model.filters=16",
            'model.blocks=["long", "short"]',
            "model.seq_len=5",
            "data.augmentation=reverse",
            "vae_weight=0.5",
        ],
    )
    assert c.data.batch_size == 8 and isinstance(c.data.batch_size, int)
    assert c.optimizer.learning_rate == 2e-4
    assert c.stage1_steps == 1000 and isinstance(c.stage1_steps, int)
    assert c.init_from == "runs/x"
    assert registry_changes(c.model) == {"filters": 16, "blocks": ["long", "short"], "seq_len": 5}
    assert c.model.blocks == ("long", "short") and c.model.name == "latn10"
    assert c.data.augmentation == ("reverse",)
    assert c.vae_weight == 0.5
    c2 = apply_overrides(c, ["init_from=none", "data.augmentation=none"])
    assert c2.init_from is None and c2.data.augmentation == ()
    # The original is untouched (overrides return a copy).
    assert c.init_from == "runs/x" and get_config("table1_latn10").model == model_config(
        "latn10", seq_len=4)


def test_older_override_names_still_work():
    new = get_config("table1_latn10", overrides=["model.seq_len=5", "model.filters=12"])
    old = get_config("table1_latn10", overrides=["seq_len=5", "model_overrides.filters=12"])
    assert old == new and (new.model.seq_len, new.model.filters) == (5, 12)


def test_model_name_switches_to_another_registry_model_keeping_l_and_changes():
    c = get_config("table1_latn10", budget="tiny", overrides=["model.name=satn10"])
    assert c.model == model_config("satn10", seq_len=4, filters=8)
    assert get_config("table1_latn10", overrides=["model=res16"]).model == model_config(
        "res16", seq_len=4)


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.bacth_size=3", r"unknown key; valid keys: .*data\.batch_size"),
        ("nope=1", r"unknown key; valid keys: name, model\.blocks, model\.num_layers"),
        ("model.nope=1", r"--set model\.nope: unknown key; valid keys: .*model\.filters"),
        ("model_overrides.nope=1", r"--set model_overrides\.nope: unknown key"),
        ("data=1", r"--set data: unknown key"),
        ("model.filters=abc", "filters must be an integer"),
        ("model.variational=maybe", r"--set model\.variational=maybe: variational must be bool"),
        ("model.name=latn99", "unknown model 'latn99'"),
        ("model.num_layers=2", "5 attention blocks need at least as many residual layers"),
        ("data.batch_size=3.5", "not a valid int"),
        ("optimizer.learning_rate=fast", "not a valid float"),
        ("stage1_steps", "expected key=value"),
        ("data.augmentation=rotate", "unknown 'rotate'"),
        ("data.batch_size=0", "data.batch_size must be >= 1"),
    ],
)
def test_override_errors(override, message, capsys):
    """The library's error names the config key; the command line names the flag that gave it."""
    with pytest.raises(ConfigError, match=message.replace("--set ", "")) as e:
        get_config("table1_latn10", overrides=[override])
    assert "--set" not in str(e.value)
    assert cli.main(["train", "--config", "table1_latn10", "--set", override, "--describe"]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_budget_is_its_overrides_applied_as_set_items():
    """``--budget tiny`` is the same config as tiny's items given to ``--set``; an item a budget
    cannot apply names the budget (no user flag gave it)."""
    from vsr_latent.configs import apply_overrides
    from vsr_latent.configs.budgets import Budget, apply_budget, get_budget

    for name in ("table1_res16", "table3_vlatn10_7"):
        base = get_config(name)
        items = get_budget("tiny").overrides(base)
        assert apply_overrides(base, items) == get_config(name, budget="tiny")
    assert get_budget("tiny").overrides(get_config("table1_res16")) == [
        "data.source=builtin", "data.lr_patch=8", "data.batch_size=2", "model.filters=8",
        "checkpoint_every=2", "log_every=1", "image_every=6", "stage1_steps=6",
        "init_from=none", "budget=tiny"]
    assert get_budget("cpu").overrides(get_config("ours"))[-4:] == [
        "stage1_steps=5400", "stage2_steps=150", "init_from=none", "budget=cpu"]
    with pytest.raises(ConfigError, match=r"^budget x: data\.bacth_size: unknown key"):
        apply_budget(get_config("ours"), Budget("x", "test", settings={"data.bacth_size": 2}))
    with pytest.raises(ConfigError, match=r"^data\.batch_size must be >= 1, got 0$"):
        apply_budget(get_config("ours"), Budget("x", "test", settings={"data.batch_size": 0}))


def test_configs_are_frozen_and_checked_when_made():
    import dataclasses

    from vsr_latent.configs import DataConfig, OptimizerConfig

    c = get_config("ours")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.stage1_steps = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.data.batch_size = 0
    with pytest.raises(ConfigError, match=r"^config 'ours': stage1_steps \+ stage2_steps must be "
                                          r">= 1$"):
        dataclasses.replace(c, stage1_steps=0, stage2_steps=0)
    with pytest.raises(ConfigError, match=r"^data\.augmentation: unknown 'spin'; known: .*; "
                                          r"data\.lr_patch must be >= 1, got 0$"):
        DataConfig(lr_patch=0, augmentation=("spin",))
    with pytest.raises(ConfigError, match=r"^data\.batch_size must be int, got '8'$"):
        DataConfig(batch_size="8")
    with pytest.raises(ConfigError, match=r"^optimizer\.min_learning_rate must be between 0"):
        OptimizerConfig(learning_rate=1e-4, min_learning_rate=1e-3)
    with pytest.raises(ConfigError, match=r"warmup_steps \(10\) must be fewer than the run's 6"):
        dataclasses.replace(get_config("table1_res16", budget="tiny"), optimizer=OptimizerConfig(
            schedule="cosine", warmup_steps=10))
    assert DataConfig(augmentation=["hflip"]).augmentation == ("hflip",)  # JSON's list
    # A stored config is checked as it is read: a wrong type names its field.
    stored = json.loads(c.to_json())
    stored["data"]["val_clips"] = "four"
    with pytest.raises(ConfigError, match=r"^data\.val_clips must be int, got 'four'$"):
        config_from_dict(stored)
    stored["data"]["val_clips"] = -1
    with pytest.raises(ConfigError, match=r"^data\.val_clips must be >= 0, got -1$"):
        config_from_dict(stored)


def test_unknown_config_lists_the_names():
    with pytest.raises(ConfigError) as e:
        get_config("table9_foo")
    assert "table1_res16" in str(e.value) and "table3_vsatn10_7" in str(e.value)


def test_json_round_trip():
    for name in ("ours", "table3_vlatn10_7", "figure6_satn10_n11"):
        c = get_config(name, overrides=["model.filters=8"])
        again = config_from_dict(json.loads(c.to_json()))
        assert again == c
    with pytest.raises(ConfigError):
        config_from_dict({"name": "x", "model": "latn10", "seq_len": 4, "bogus": 1})
    with pytest.raises(ConfigError, match="model must be an object"):
        config_from_dict({"name": "x", "model": 3})
    with pytest.raises(ConfigError, match="unknown model setting"):
        config_from_dict({"name": "x", "model": {"name": "latn10", "width": 3}})


def test_config_json_of_an_older_version_loads():
    """Run folders written before the model config was typed: the model as a registry name with
    seq_len and model_overrides beside it, the budget as scale, the paper's numbers inside."""
    c = get_config("ours", budget="smoke")
    old = {k: v for k, v in json.loads(c.to_json()).items() if k not in ("model", "budget")}
    old.update(model="ours", seq_len=7, model_overrides={"filters": 8}, scale="smoke",
               paper_psnr={"vid4": 26.44})
    assert config_from_dict(old) == c
    # A model given by name only takes the registry's architecture.
    partial = config_from_dict({"name": "x", "model": {"name": "satn10", "seq_len": 9}})
    assert partial.model == model_config("satn10", seq_len=9)


def test_cli_errors_are_one_line(capsys):
    assert cli.main(["train", "--config", "table9_foo"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "known configs:" in err and "table1_res16" in err
    assert cli.main(["train", "--config", "ours", "--set", "data.bs=2"]) == 2
    err = capsys.readouterr().err
    assert "unknown key" in err and "data.batch_size" in err


def test_cli_list_and_describe(capsys):
    assert cli.main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert names == list(CONFIG_NAMES)
    assert cli.main(["train", "--config", "table1_satn10", "--describe",
                     "--set", "data.batch_size=4"]) == 0
    out = capsys.readouterr().out
    assert "29.43" in out
    resolved = json.loads(out[out.index("\n{") + 1:])
    assert resolved["data"]["batch_size"] == 4
    assert (resolved["model"]["name"], resolved["model"]["seq_len"]) == ("satn10", 4)
    assert re.search(r"vsr-latent train --config table1_satn10", out)


def test_cli_budget_and_its_old_name(capsys):
    assert cli.main(["train", "--config", "table1_satn10", "--scale", "smoke", "--describe"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("\n{") + 1:])["budget"] == "smoke"
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--budget {full,tiny,smoke,rehearsal,cpu}, --scale {full,tiny,smoke,rehearsal,cpu}" in help_text
    assert "--scale is its old name" in help_text


def test_the_paper_runner_names_the_flag_of_a_bad_override(tmp_path, capsys):
    from vsr_latent.paper.runner import main

    assert main(["table1", "--budget", "tiny", "--set", "data.bs=2", "--quiet",
                 "--out", str(tmp_path), "--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error: --set data.bs: unknown key; valid keys:" in err[0]
    assert not (tmp_path / "runs").exists()
