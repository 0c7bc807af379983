"""Experiment configs: every named config, the paper's numbers, overrides and their errors."""

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
    get_config,
)
from vsr_latent.errors import ConfigError
from vsr_latent.models import MODEL_NAMES, model_config

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
        assert (c.model, c.seq_len) == (model, seq_len), name
        assert psnr in c.paper_psnr.values(), name
        assert c.model in MODEL_NAMES
    assert get_config("table1_res16").paper_psnr == {"normal": 29.14, "remote": 27.81}
    assert get_config("table1_latn10").paper_psnr["remote"] == 28.51
    for model in ("latn10", "satn10"):
        for n in range(3, 12):
            c = get_config(f"figure6_{model}_n{n}")
            assert (c.model, c.seq_len) == (model, n)
    # 13 named models + 2 Table 3 controls + 18 of Fig. 6 + the smoke alias.
    assert len(CONFIG_NAMES) == 13 + 2 + 18 + 1


def test_table3_controls_have_the_v_rows_steps_on_l_re_only():
    for base, v in (("latn10_7", "vlatn10_7"), ("satn10_7", "vsatn10_7")):
        control, variational = get_config(f"table3_{base}_control"), get_config(f"table3_{v}")
        assert control.init_from == variational.init_from == f"runs/table3_{base}"
        assert control.stage1_steps == variational.stage2_steps == DEFAULT_STAGE2_STEPS
        assert control.stage2_steps == 0 and not model_config(control.model).variational
        assert control.model == get_config(f"table3_{base}").model
        assert control.paper_psnr == {}
        assert "not in the paper" in describe(f"table3_{base}_control")


@pytest.mark.parametrize("name", [n for n in CONFIG_NAMES if n != "smoke"])
def test_docstring_says_what_number_runtime_and_command(name):
    doc = describe(name)
    assert f"vsr-latent train --config {name}" in doc
    assert "Paper:" in doc and "Runtime:" in doc
    if name in EXPECTED:
        assert f"{EXPECTED[name][2]}" in doc


def test_optimiser_follows_section_7():
    o = get_config("ours").optimizer
    assert (o.learning_rate, o.beta_1, o.beta_2, o.global_clipnorm) == (1e-4, 0.9, 0.999, 3.0)


def test_stages_follow_algorithm_1():
    # Two stages exactly for the models with variance heads, stage 1 only for the others.
    for name in CONFIG_NAMES:
        c = get_config(name)
        variational = model_config(c.model).variational
        assert (c.stage2_steps > 0) == variational, name
        assert c.total_steps == c.stage1_steps + c.stage2_steps
    v = get_config("table3_vlatn10_7")
    assert (v.stage1_steps, v.stage2_steps, v.init_from) == (
        0, DEFAULT_STAGE2_STEPS, "runs/table3_latn10_7")
    assert get_config("table3_vsatn10_7").init_from == "runs/table3_satn10_7"
    assert get_config("table3_latn10_7").stage1_steps == DEFAULT_TRAIN_STEPS
    ours = get_config("ours")
    assert ours.stage1_steps > 0 and ours.stage2_steps > 0 and ours.init_from is None


def test_augmentation_default_is_the_data_pipelines():
    from vsr_latent.data.transforms import AUGMENTATIONS, DEFAULT_AUGMENT

    assert tuple(DEFAULT_AUGMENT) == DEFAULT_AUGMENTATION
    assert set(get_config("ours").data.augmentation) <= set(AUGMENTATIONS)


def test_smoke_scale():
    c = get_config("table3_vlatn10_7", scale="smoke")
    assert c.scale == "smoke" and c.data.source == "builtin"
    assert c.init_from is None and c.stage1_steps > 0 and c.stage2_steps > 0
    assert c.total_steps <= 10 and c.data.lr_patch == 8 and c.data.batch_size == 2
    assert (c.model, c.seq_len) == ("vlatn10", 7)
    s = get_config("smoke")
    assert s.model == "ours" and s.scale == "smoke"
    with pytest.raises(ConfigError, match="known scales: full, smoke"):
        get_config("ours", scale="huge")


def test_overrides_are_typed():
    c = get_config(
        "table1_latn10",
        overrides=[
            "data.batch_size=8",
            "optimizer.learning_rate=2e-4",
            "stage1_steps=1e3",
            "init_from=runs/x",
            "model_overrides.filters=16",
            'model_overrides.blocks=["long", "short"]',
            "data.augmentation=reverse",
            "vae_weight=0.5",
        ],
    )
    assert c.data.batch_size == 8 and isinstance(c.data.batch_size, int)
    assert c.optimizer.learning_rate == 2e-4
    assert c.stage1_steps == 1000 and isinstance(c.stage1_steps, int)
    assert c.init_from == "runs/x"
    assert c.model_overrides == {"filters": 16, "blocks": ["long", "short"]}
    assert c.data.augmentation == ("reverse",)
    assert c.vae_weight == 0.5
    c2 = apply_overrides(c, ["init_from=none", "data.augmentation=none"])
    assert c2.init_from is None and c2.data.augmentation == ()
    # The original is untouched (overrides return a copy).
    assert c.init_from == "runs/x" and get_config("table1_latn10").model_overrides == {}


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.bacth_size=3", r"unknown key; valid keys: .*data\.batch_size"),
        ("nope=1", r"unknown key; valid keys: name, model, seq_len"),
        ("data.batch_size=3.5", "not a valid int"),
        ("optimizer.learning_rate=fast", "not a valid float"),
        ("stage1_steps", "expected key=value"),
        ("data.augmentation=rotate", "unknown 'rotate'"),
        ("data.batch_size=0", "data.batch_size must be >= 1"),
    ],
)
def test_override_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        get_config("table1_latn10", overrides=[override])


def test_unknown_config_lists_the_names():
    with pytest.raises(ConfigError) as e:
        get_config("table9_foo")
    assert "table1_res16" in str(e.value) and "table3_vsatn10_7" in str(e.value)


def test_json_round_trip():
    for name in ("ours", "table3_vlatn10_7", "figure6_satn10_n11"):
        c = get_config(name, overrides=["model_overrides.filters=8"])
        again = config_from_dict(json.loads(c.to_json()))
        assert again == c
    with pytest.raises(ConfigError):
        config_from_dict({"name": "x", "model": "latn10", "seq_len": 4, "bogus": 1})


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
    resolved = json.loads(out[out.index("{"):])
    assert resolved["data"]["batch_size"] == 4 and resolved["model"] == "satn10"
    assert re.search(r"vsr-latent train --config table1_satn10", out)
