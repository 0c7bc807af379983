"""The ``vsr-latent`` dispatcher: option spelling and the command list."""

import json

from vsr_latent import cli


def test_dashes_and_underscores_in_option_names_are_the_same():
    assert cli.normalize_option_names(
        ["upscale", "--tile-overlap=3", "--no-progress", "-x", "in-file", "--", "--a-b"]
    ) == ["upscale", "--tile_overlap=3", "--no_progress", "-x", "in-file", "--", "--a-b"]


def test_every_command_registers():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(cli.COMMANDS)


def test_models_json_through_main(capsys):
    assert cli.main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    assert by_name["ours"]["params"] == 4_120_212
    assert abs(by_name["ours"]["params"] - 4_108_739) / 4_108_739 < 0.01
    for name in ("res16", "satn10", "latn10"):
        assert abs(by_name[name]["params"] - 1_700_000) <= 20_000
        assert by_name[name]["seq_len"] == 4
