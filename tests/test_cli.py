"""The ``vsr-latent`` dispatcher: option spelling and the command list."""

import json

from vsr_latent import cli, command_runner


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


def test_library_errors_name_fields_and_the_command_line_names_its_flags():
    flags = {"uncertainty_max_std": "--uncertainty_scale", "overlap": "--tile_overlap",
             "out_path": "OUT"}
    assert command_runner.in_flags("uncertainty_max_std must be > 0, got 0", ("uncertainty_max_std",),
                        flags) == "--uncertainty_scale must be > 0, got 0"
    # Only the fields the error lists, only their first mention, never inside a word or a path.
    assert command_runner.in_flags("tile side 16 must exceed overlap 16 (an overlap)", ("overlap",),
                        flags) == "tile side 16 must exceed --tile_overlap 16 (an overlap)"
    assert command_runner.in_flags("/runs/overlap/out_path: overlaps out_path", ("overlap", "out_path"),
                        flags) == "/runs/overlap/out_path: overlaps OUT"
    assert command_runner.in_flags("samples must be >= 1", ("samples",), flags) == "samples must be >= 1"


def test_evaluate_errors_speak_in_flags_on_the_command_line(capsys):
    assert cli.main(["evaluate", "--model", "bicubic", "--samples", "0"]) == 2
    assert capsys.readouterr().err == (
        "vsr-latent evaluate: error: --samples must be >= 1, got 0\n")
    assert cli.main(["evaluate", "--model", "bicubic", "--sr_dir", "a", "--gt_dir", "b"]) == 2
    assert capsys.readouterr().err == ("vsr-latent evaluate: error: give either --model (with "
                                       "--dataset) or --sr_dir and --gt_dir, not both\n")
