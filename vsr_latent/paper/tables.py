"""The drivers: one function per table or figure, each taking a :class:`Context` and writing
``<out>/<name>.md`` / ``.csv`` (and its figures) through :class:`ResultsTable`.

A row whose training or evaluation fails is written as "not run" with the error, the driver goes
on with the other rows, and the failure is listed in ``ctx.failures`` (the command then exits
non-zero).
"""

import dataclasses
import traceback

from vsr_latent.configs import paper_numbers as paper
from vsr_latent.evaluation import PROTOCOLS
from vsr_latent.models import build_model, count_params, registry_changes
from vsr_latent.paper import measure
from vsr_latent.paper.runs import ensure_run, resolve_config
from vsr_latent.precision import DEFAULT_INFERENCE_PRECISION, resolve_precision
from vsr_latent.serving.loading import load_predictor
from vsr_latent.serving.predictors import KerasPredictor

TABLE1_CONFIGS = {"res16": "table1_res16", "satn10": "table1_satn10", "latn10": "table1_latn10"}
TABLE2_CONFIGS = {k: f"table2_{k}" for k in ("lsatn_x", "lsatn_l", "lsatn_sl", "lsatn_s",
                                             "lsatn_ls")}
TABLE3_CONFIGS = {k: f"table3_{k}" for k in ("latn10_7", "satn10_7", "vlatn10_7", "vsatn10_7")}
TABLE3_STAGE1 = {"vlatn10_7": "latn10_7", "vsatn10_7": "satn10_7"}
# Controls added by this package: the stage-1 run trained the V rows' stage-2 steps on L_re only.
TABLE3_CONTROLS = {"latn10_7_control": "latn10_7", "satn10_7_control": "satn10_7"}
TABLE3_CONFIGS.update({k: f"table3_{k}" for k in TABLE3_CONTROLS})
FIGURE6_CONFIGS = {f"{m}_{n}": f"figure6_{m}_n{n}" for m in ("latn10", "satn10")
                   for n in paper.FIGURE6_LENGTHS}
OURS_CONFIG = "ours"
#: A run that continues from trained weights (Table 3's stage 2 and its control) warms up over at
#: most this fraction of its steps: the warm-up protects freshly initialised attention blocks, and a
#: continuation has none (at the cpu budget the budget's 150 warm-up steps would be the whole run).
CONTINUATION_WARMUP_FRACTION = 0.1
#: Frames of the first Vid4 sequence the shipped model is timed on for Table 5 (two chunks of
#: L = 7): the steady per-frame time without the quickstart paying for a whole sequence.
PRETRAINED_TIMED_FRAMES = 14


def error_summary(exc):
    """One line for a results file: the exception type and the last line of its message (the
    informative one for TensorFlow's multi-line errors), at most 300 characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
    return text[:300]


def _failed(ctx, table, key, what, exc):
    reason = f"failed while {what}: {error_summary(exc)}"
    ctx.log(f"{key}: {reason}")
    if not ctx.quiet:
        traceback.print_exc()
    ctx.failures.append(f"{table.name}/{key}: {reason}")
    table.not_run(key, reason)


def _validation_rows(ctx, table, rows):
    """Train (or reuse) and score ``{row key: config name}`` on the Normal validation data."""
    cache = {}
    for key, config_name in rows.items():
        try:
            run = ensure_run(ctx, config_name)
        except Exception as e:  # noqa: BLE001 - reported in the table, the other rows go on
            _failed(ctx, table, key, f"training {config_name}", e)
            continue
        try:
            cfg = run.config
            data_key = (cfg.data.degradation, cfg.model.seq_len)
            if data_key not in cache:
                cache[data_key] = measure.validation_data(ctx, *data_key)
            value = measure.validation_psnr(ctx, run, cache[data_key])
        except Exception as e:  # noqa: BLE001
            _failed(ctx, table, key, f"evaluating {run.run_dir}", e)
            continue
        ctx.log(f"{key}: PSNR {value:.2f} dB")
        table.measure(key, psnr=value)
    return cache


def _validation_description(ctx, cache):
    chunks = ", ".join(f"L={k[1]}: {v.count} chunks of {v.hr_size[0]}x{v.hr_size[1]} HR"
                       for k, v in sorted(cache.items()) if v.count)
    clips = ("all" if ctx.budget.val_max_clips is None
             else f"the first {ctx.budget.val_max_clips}")
    if ctx.budget.val_max_frames is not None:
        clips += f" (the first {ctx.budget.val_max_frames} frames of each)"
    if measure.builtin_data(ctx):
        src = ("the built-in clips (vsr_latent.data.builtin: train split to train, validation "
               "split to score)")
    else:
        src = (f"dataset root `{ctx.budget.data_source}` (train split to train, validation split "
               "to score)")
    return f"{src}; {clips} validation clips, cut into chunks of L frames ({chunks})"


def _bicubic_line(cache):
    """Bicubic PSNR on the same validation chunks: the floor the measured rows should beat."""
    parts = []
    for (degradation, seq_len), data in sorted(cache.items()):
        try:
            value = measure.score_validation(load_predictor("bicubic", seq_len=seq_len), data)
        except Exception as e:  # noqa: BLE001 - a reference line, never worth losing the table
            parts.append(f"L={seq_len}: not run ({type(e).__name__}: {e})")
            continue
        parts.append(f"L={seq_len}: {value:.2f} dB")
    return ("measured on the same validation chunks (not a paper row): " + ", ".join(parts)
            if parts else "not run")


def _protocol_line():
    return (f"validation PSNR = `{measure.VALIDATION_METRIC}` under the `"
            f"{measure.VALIDATION_PROTOCOL}` protocol of vsr_latent.evaluation (every frame, no "
            "border crop), SR rounded to 8 bits; mean over every real frame (a clip's last chunk "
            "zero-padded to L, the padding's outputs dropped, §6.2); deterministic (mean) path")


def table1(ctx):
    t = ctx.results_table(paper.TABLE1)
    rows = {f"normal/{m}": c for m, c in TABLE1_CONFIGS.items()}
    cache = _validation_rows(ctx, t, rows)
    for model, config_name in TABLE1_CONFIGS.items():
        key = f"remote/{model}"
        run = ctx.runs.get(config_name)
        if run is None:
            t.not_run(key, f"{config_name} was not trained (see the Normal row)")
            continue
        try:
            value = measure.remote_psnr(ctx, run)
        except Exception as e:  # noqa: BLE001
            _failed(ctx, t, key, f"evaluating {run.run_dir} with external key frames", e)
            continue
        ctx.log(f"{key}: PSNR {value:.2f} dB")
        t.measure(key, psnr=value)
    remote = ("Remote: `remote_dataset` of " + (
        "the built-in clips (two validation clips joined at a scene cut, key frames chosen from "
        "the same clip by the Remote selection's scene-change rule)" if measure.builtin_data(ctx)
        else f"`{ctx.budget.data_source}`") + ", every L-frame chunk upscaled with its clip's "
        "external key frames")
    ctx.fill_meta(t, runs=TABLE1_CONFIGS.values(),
                  data=_validation_description(ctx, cache) + "; " + remote,
                  protocol=_protocol_line(), extra={"Bicubic": _bicubic_line(cache)})
    return t


def table2(ctx):
    t = ctx.results_table(paper.TABLE2)
    cache = _validation_rows(ctx, t, TABLE2_CONFIGS)
    ctx.fill_meta(t, runs=TABLE2_CONFIGS.values(), data=_validation_description(ctx, cache),
                  protocol=_protocol_line(), extra={"Bicubic": _bicubic_line(cache)})
    return t


def _continuation(ctx, stage1_run, *, control):
    """Changes of a run continuing ``stage1_run`` for the V rows' stage-2 steps at this budget:
    its weights and a warm-up capped by :data:`CONTINUATION_WARMUP_FRACTION` of those steps; on
    L_re alone (``control``: stage 1) or on L_re + L_vae (stage 2)."""
    steps = resolve_config(ctx, "table3_vlatn10_7").stage2_steps
    opt = stage1_run.config.optimizer
    warmup = min(opt.warmup_steps, int(steps * CONTINUATION_WARMUP_FRACTION))
    return {"init_from": str(stage1_run.run_dir.resolve()),
            "stage1_steps": steps if control else 0,
            "optimizer": dataclasses.replace(opt, warmup_steps=warmup)}


def stage2_changes(ctx, stage1_run):
    """Stage 2 only, from the finished stage-1 run (its steps: the budget's stage 2)."""
    return _continuation(ctx, stage1_run, control=False)


def _control_changes(ctx, stage1_run):
    """The control trains as many steps on L_re as the V rows' stage 2 has at this budget."""
    return _continuation(ctx, stage1_run, control=True)


def table3(ctx):
    t = ctx.results_table(paper.TABLE3)
    stage1 = {k: TABLE3_CONFIGS[k] for k in ("latn10_7", "satn10_7")}
    cache = _validation_rows(ctx, t, stage1)
    rows = [(key, base, stage2_changes, "stage 2") for key, base in TABLE3_STAGE1.items()]
    rows += [(key, base, _control_changes, "L_re only") for key, base in TABLE3_CONTROLS.items()]
    for key, base, make_changes, how in rows:
        config_name = TABLE3_CONFIGS[key]
        base_run = ctx.runs.get(TABLE3_CONFIGS[base])
        if base_run is None:
            t.not_run(key, f"its stage 1 ({TABLE3_CONFIGS[base]}) was not trained")
            continue
        try:
            run = ensure_run(ctx, config_name, make_changes(ctx, base_run))
        except Exception as e:  # noqa: BLE001
            _failed(ctx, t, key, f"training {config_name}", e)
            continue
        try:
            data = cache.get((run.config.data.degradation, run.config.model.seq_len))
            value = measure.validation_psnr(ctx, run, data)
        except Exception as e:  # noqa: BLE001
            _failed(ctx, t, key, f"evaluating {run.run_dir}", e)
            continue
        ctx.log(f"{key}: PSNR {value:.2f} dB")
        t.measure(key, psnr=value, note=f"{how} from {base_run.run_dir}")
    ctx.fill_meta(t, runs=TABLE3_CONFIGS.values(), data=_validation_description(ctx, cache),
                  protocol=_protocol_line(), extra={"Bicubic": _bicubic_line(cache)})
    return t


def figure6_table(ctx):
    t = ctx.results_table(paper.FIGURE6)
    cache = _validation_rows(ctx, t, FIGURE6_CONFIGS)
    return t, cache


def _vid4_missing(ctx):
    return ("not run: Vid4 not found (pass --vid4_root DIR with GT/<sequence>/ frames, or put it "
            "in ../shared/data/Vid4)")


def _pretrained_predictor():
    """The shipped model (``paper.PRETRAINED_ROW``) in the inference default precision, and that
    precision's name."""
    precision = resolve_precision(DEFAULT_INFERENCE_PRECISION)
    return load_predictor(paper.PRETRAINED_ROW, precision=precision), precision


def _pretrained_note(ctx, data, precision, what):
    """What a pretrained row's number is: a trained model, unlike the budget's rows."""
    whole = ctx.budget.pretrained_whole_vid4
    frames = sum(lr.shape[0] for _, lr, _ in data)
    return (f"REAL: the shipped `{paper.PRETRAINED_ROW}` (trained by this package at CPU scale, "
            f"see its model card), not trained by this run; {what} on {frames} frames of "
            + ("Vid4 at full size" if whole else f"Vid4 as the {ctx.budget.name} budget cuts it")
            + f", {precision}")


def _pretrained_exception_note(ctx, t):
    """Where the budget cuts Vid4 for its own rows, says that the shipped model's row is not on
    those frames (and is not smoke scale)."""
    b = ctx.budget
    if t.value(paper.PRETRAINED_ROW, t.paper.metrics[-1][0]) is None:
        return
    if b.pretrained_whole_vid4 and (b.vid4_max_frames is not None or b.vid4_crop is not None):
        t.notes.append(
            f"{paper.PRETRAINED_LABEL} is the exception to the scale warning above: the shipped "
            f"trained model on Vid4 at full size, not on the {b.name} budget's cut frames of the "
            "other rows; its model card (vsr_latent/pretrained/ours_cpu.md) gives bicubic on the "
            "same frames.")


def table4(ctx):
    extra = (("psnr_paper_y", "PSNR/dB paper protocol, Y", ".2f"),
             ("psnr_standard", "PSNR/dB standard protocol (all frames, no crop, Y)", ".2f"))
    t = ctx.results_table(paper.TABLE4, extra_metrics=extra)
    data_line = ""
    pretrained = paper.PRETRAINED_ROW
    if ctx.vid4_root is None:
        for key in ("bicubic", "ours", pretrained):
            t.not_run(key, _vid4_missing(ctx))
    else:
        full = measure.vid4_data(ctx, whole=True)  # read and degraded once for every row
        data = measure.cut_vid4(ctx.budget, full)
        data_line = measure.describe_vid4(ctx, data)
        whole = ctx.budget.pretrained_whole_vid4
        pretrained_data = full if whole else data
        precision = None

        def ours():
            return measure.run_predictor(ensure_run(ctx, OURS_CONFIG))

        def shipped():
            nonlocal precision
            predictor, precision = _pretrained_predictor()
            return predictor

        rows = {"bicubic": (lambda: load_predictor("bicubic", seq_len=7), data),
                "ours": (ours, data), pretrained: (shipped, pretrained_data)}
        for key, (make, rows_data) in rows.items():
            try:
                predictor = make()
            except Exception as e:  # noqa: BLE001
                _failed(ctx, t, key, "training / loading the model", e)
                continue
            try:
                ctx.log(f"{key}: scoring on Vid4")
                scores = measure.vid4_scores(predictor, rows_data)
            except Exception as e:  # noqa: BLE001
                _failed(ctx, t, key, "evaluating on Vid4", e)
                continue
            p, s = scores["paper"].average(), scores["standard"].average()
            primary = scores["paper"].protocol.primary_channel
            note = (_pretrained_note(ctx, rows_data, precision, "scored")
                    if key == pretrained else "")
            t.measure(key, psnr=p[f"psnr_{primary}"], psnr_paper_y=p["psnr_y"],
                      psnr_standard=s["psnr_y"], note=note)
            ctx.log(f"{key}: PSNR {p['psnr_' + primary]:.2f} dB (paper protocol, {primary}), "
                    f"{s['psnr_y']:.2f} dB (standard, Y)")
        if whole:
            data_line += ("; the shipped model's row: "
                          + measure.describe_vid4(ctx, pretrained_data, whole=True))
        _pretrained_exception_note(ctx, t)

    pp = PROTOCOLS["paper"]
    ctx.fill_meta(
        t, runs=[OURS_CONFIG], data=data_line or "Vid4 not found",
        protocol=(f"PSNR/dB (ours): paper protocol — {pp.description}; headline channel "
                  f"{pp.primary_channel.upper()} (the paper does not say which); mean over the 4 "
                  "sequences of per-sequence means; SR rounded to 8 bits"),
    )
    return t


def _paper_size_speed(ctx, run, data):
    """Seconds per frame of the paper-size architecture (fresh weights: the speed does not
    depend on them) on the first test sequence, on the same device: what the smoke model's
    timing cannot say."""
    try:
        L = run.config.model.seq_len
        big = KerasPredictor(build_model(run.config.model.name, seq_len=L), name="paper-size",
                             seq_len=L)
        ctx.log("ours: timing the paper-size architecture")
        spf = measure.seconds_per_frame(big, data[:1])
    except Exception as e:  # noqa: BLE001 - an extra line, never worth losing the table
        return f"not run ({error_summary(e)})"
    name, lr, _ = data[0]
    return (f"{spf:.4f} s per frame for `build_model({run.config.model.name!r})` (untrained "
            f"weights; speed does not depend on them) on {name} as cut here ({lr.shape[0]} "
            f"frames {lr.shape[2]}x{lr.shape[1]} LR), same device")


def table5(ctx):
    t = ctx.results_table(paper.TABLE5)
    extra = {}
    try:
        run = ensure_run(ctx, OURS_CONFIG)
    except Exception as e:  # noqa: BLE001
        _failed(ctx, t, "ours", f"training {OURS_CONFIG}", e)
        run = None
    if run is not None:
        try:
            model = run.config.model
            trained_params = count_params(build_model(model))
            full_params = count_params(build_model(model.name, seq_len=model.seq_len))
        except Exception as e:  # noqa: BLE001
            _failed(ctx, t, "ours", "building the model", e)
            run = None
    if run is not None and ctx.vid4_root is None:
        t.not_run("ours", _vid4_missing(ctx))
    elif run is not None:
        try:
            data = measure.vid4_data(ctx)
            predictor = measure.run_predictor(run)
            ctx.log("ours: timing on Vid4")
            spf = measure.seconds_per_frame(predictor, data, ctx.budget.timing_repeats)
            note = ""
            if full_params != trained_params:
                changes = {k: v for k, v in registry_changes(model).items() if k != "seq_len"}
                note = (f"parameters of the model timed here ({model.name} with {changes}); the "
                        f"paper-size architecture has {full_params:,}")
            t.measure("ours", params=trained_params, seconds_per_frame=spf, note=note)
            ctx.log(f"ours: {trained_params:,} parameters, {spf:.4f} s per frame")
            extra["Data"] = measure.describe_vid4(ctx, data)
            paper_params = paper.TABLE5.row("ours").values["params"]
            extra["Paper-size parameters"] = (f"`build_model({model.name!r})`: "
                                              f"{full_params:,} (paper: {paper_params:,})")
            if full_params != trained_params:
                extra["Paper-size speed"] = _paper_size_speed(ctx, run, data)
        except Exception as e:  # noqa: BLE001
            _failed(ctx, t, "ours", "timing on Vid4", e)
    _time_pretrained(ctx, t)
    _pretrained_exception_note(ctx, t)
    gpus = ctx.hardware["gpus"]
    extra["Timing device"] = (gpus[0] if gpus else f"CPU: {ctx.hardware['cpu']}") + (
        f"; seconds per frame = wall time of upscale_sequence over every frame, "
        f"{ctx.budget.timing_repeats} pass(es), after one untimed warm-up chunk; batch 1, "
        "chunks of L frames")
    ctx.fill_meta(t, runs=[OURS_CONFIG], extra=extra)
    return t


def _time_pretrained(ctx, t):
    """Table 5's row for the shipped model: its parameters and its seconds per frame on the
    first ``PRETRAINED_TIMED_FRAMES`` frames of the first Vid4 sequence (whole frames, at Vid4's
    size, unless the budget cuts them), in the inference default precision: a trained model's
    speed where the budget's own model is a narrow one."""
    key = paper.PRETRAINED_ROW
    if ctx.vid4_root is None:
        t.not_run(key, _vid4_missing(ctx))
        return
    try:
        predictor, precision = _pretrained_predictor()
        name, lr, gt = measure.vid4_data(ctx, whole=ctx.budget.pretrained_whole_vid4)[0]
        data = [(name, lr[:PRETRAINED_TIMED_FRAMES], gt[:PRETRAINED_TIMED_FRAMES])]
        ctx.log(f"{key}: timing on Vid4 ({data[0][0]})")
        spf = measure.seconds_per_frame(predictor, data)
    except Exception as e:  # noqa: BLE001
        _failed(ctx, t, key, "timing the shipped model on Vid4", e)
        return
    name, lr, _ = data[0]
    params = count_params(predictor.model)
    t.measure(key, params=params, seconds_per_frame=spf, note=_pretrained_note(
        ctx, data, precision, f"timed after a warm-up chunk on {name} ({lr.shape[2]}x"
        f"{lr.shape[1]} LR)"))
    ctx.log(f"{key}: {params:,} parameters, {spf:.4f} s per frame ({precision})")
