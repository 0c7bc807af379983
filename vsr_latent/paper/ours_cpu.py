"""Remake the shipped ``ours_cpu`` model: data, training at the cpu budget, Vid4 scores, card.

    vsr-latent remake ours_cpu [--run_dir runs/ours_cpu] [--data_root data/cpu_root] [--install]

(``reproduce/ours_cpu.sh`` runs it; the command is ``vsr_latent/commands/remake.py``, the work
:func:`remake`):

1. The dataset root: made from ``../shared/data/train_clips`` by running
   ``python -m data_tools.make_dataset`` (``vsr_latent.configs.CPU_DATA_COMMAND``) when it does
   not exist yet.
2. Training: ``vsr-latent train --config ours --budget cpu`` into ``run_dir`` (resumed, or
   reused when finished). Vid4 is never used for training or for choosing a checkpoint: the last
   one is taken.
3. Scores on Vid4 BI x4, every sequence, under the ``standard`` and ``paper`` protocols, in
   float32 and in mixed_bfloat16, with bicubic beside; seconds per frame of both precisions.
4. Results: ``OUT/ours_cpu.md`` (the model card), ``OUT/ours_cpu.json``,
   ``OUT/ours_cpu_training.png`` (validation PSNR and loss against step, from the TensorBoard
   logs) and ``OUT/ours_cpu.keras``; ``install`` copies the weights and the card into
   ``vsr_latent/pretrained/``.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from vsr_latent import hardware, run_folder
from vsr_latent.atomic import atomic_path
from vsr_latent.configs import CPU_DATA_ROOT, config_from_dict, get_config, paper_numbers
from vsr_latent.configs.base import DEFAULT_RECONSTRUCTION_LOSS
from vsr_latent.configs.budgets import CPU_DATA_ARGS, cpu_data_command
from vsr_latent.configs.config_json import LEGACY_STAGE2_FORWARD
from vsr_latent.data.dataset_root import INDEX, cpu_root_warning, index_settings
from vsr_latent.errors import InputError
from vsr_latent.evaluation import dataset_sequences, evaluate_predictor_protocols
from vsr_latent.layers import RESIDUAL_INIT_SCALE
from vsr_latent.metrics import crops_psnr
from vsr_latent.paper.context import git_commit
from vsr_latent.paths import shared_data_dir
from vsr_latent.pretrained import FOLDER
from vsr_latent.run_folder import read_scalars
from vsr_latent.serving.loading import load_predictor
from vsr_latent.serving.predictors import bicubic_upscale
from vsr_latent.training import trainer

#: The precisions the card scores ours_cpu in: float32 and the bfloat16 that inference runs in on
#: CPUs with native bfloat16 (``precision.DEFAULT_INFERENCE_PRECISION``); not the training
#: precisions (``precision.PRECISIONS``), whose mixed_float16 a CPU has no fast kernels for.
CARD_PRECISIONS = ("float32", "mixed_bfloat16")
PROTOCOLS = ("standard", "paper")
#: Scalars of the training-curve figure (TensorBoard tags).
CURVE_TAGS = ("psnr/validation", "loss/re", "loss/vae", "optimizer/learning_rate")


def ensure_dataset(root, log=print):
    """Makes the cpu budget's dataset root from the shared training clips unless it exists."""
    root = Path(root)
    if (root / INDEX).is_file():
        warning = cpu_root_warning(root)
        if warning:
            log(warning)
        return root
    shared = shared_data_dir()
    if shared is None or not (shared / "train_clips").is_dir():
        raise InputError(root, "no dataset root, and no ../shared/data/train_clips to make it from")
    log(f"Making the dataset root {root} from {shared / 'train_clips'}")
    make_cpu_root(shared / "train_clips", root, log=log)
    return root


def make_cpu_root(sources, root, log=print):
    """Runs ``python -m data_tools.make_dataset SOURCES ROOT`` with the cpu budget's settings
    (``CPU_DATA_ARGS``); what it prints goes to ``log``, its progress bar to stderr as it runs
    (the ingest takes minutes). The data tools sit above the package's floors
    (docs/architecture.md): they are run as the command they are, not imported. Their error
    becomes an InputError naming ``root``."""
    command = [sys.executable, "-m", "data_tools.make_dataset", str(sources), str(root),
               *CPU_DATA_ARGS]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tail = b""
    # stderr carries the progress bar and, last, the tool's one-line error: shown as it comes,
    # its end kept for the error. The tool's stdout is a few summary lines (no pipe can fill).
    for chunk in iter(lambda: proc.stderr.read1(4096), b""):
        sys.stderr.write(chunk.decode(errors="replace"))
        sys.stderr.flush()
        tail = (tail + chunk)[-8192:]
    out = proc.stdout.read().decode(errors="replace")
    returncode = proc.wait()
    for line in out.splitlines():
        log(line)
    if returncode:
        errors = [line for line in tail.decode(errors="replace").replace("\r", "\n").splitlines()
                  if line.strip()]
        reason = errors[-1].removeprefix("make_dataset: error: ") if errors else (
            f"exit code {returncode}")
        shown = " ".join(["python -m data_tools.make_dataset", *command[3:]])
        raise InputError(root, f"`{shown}` failed: {reason}")
    return Path(root)


def validation_bicubic_psnr(config):
    """Bicubic's PSNR on the trainer's validation crops of ``config`` (the curve's floor)."""
    return crops_psnr(bicubic_upscale, trainer.config_validation_crops(config))


# The loss axis of the training curve, by ExperimentConfig.reconstruction_loss.
LOSS_AXIS_LABELS = {"l2": "MSE on [0, 1]", "charbonnier": "Charbonnier loss on [0, 1]"}


def training_curve_figure(scalars, path, *, stage1_steps=None, bicubic=None,
                          title="ours at CPU scale", loss=DEFAULT_RECONSTRUCTION_LOSS):
    """Validation PSNR (with bicubic's on the same crops) and training loss (L_re, L_vae; which
    loss: ``loss``) against step, one PNG; a vertical line where stage 2 starts
    (``stage1_steps``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    if "psnr/validation" in scalars:
        s, v, _ = scalars["psnr/validation"]
        ax.plot(s, v, "o-", color="C0", label="model, validation crops (RGB)")
    if bicubic is not None:
        ax.axhline(bicubic, color="k", ls=":", label=f"bicubic, same crops ({bicubic:.2f} dB)")
    ax.set_xlabel("step")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("validation PSNR (mean path)")
    ax = axes[1]
    for tag, color in (("loss/re", "C1"), ("loss/vae", "C2")):
        if tag in scalars:
            s, v, _ = scalars[tag]
            k = max(1, len(v) // 20)
            ax.plot(s, v, color=color, alpha=0.35, lw=0.8)
            smooth = np.convolve(v, np.ones(k) / k, mode="valid")
            ax.plot(s[k - 1:], smooth, color=color, label=f"{tag} (mean of {k})")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(LOSS_AXIS_LABELS[loss])
    ax.set_title("training loss")
    for a in axes:
        if stage1_steps:
            a.axvline(stage1_steps, color="grey", ls="--", lw=0.8, label="stage 2 starts")
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return Path(path)


def _table(rows, protocol):
    """Markdown: one row per method, PSNR/SSIM Y per sequence and the average."""
    names = list(next(iter(rows.values()))[protocol].sequences)
    head = "| method | " + " | ".join(names) + " | average |"
    lines = [head, "|" + "---|" * (len(names) + 2)]
    for label, res in rows.items():
        r = res[protocol].to_dict()
        cells = [f"{r['sequences'][n]['psnr_y']:.2f} / {r['sequences'][n]['ssim_y']:.4f}"
                 for n in names]
        avg = r["average"]
        cells.append(f"**{avg['psnr_y']:.2f} / {avg['ssim_y']:.4f}**")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_card(info):
    """The model card's Markdown from the measured ``info`` (see :func:`main`)."""
    paper_psnr = paper_numbers.TABLE4.row("ours").values["psnr"]

    t = info["training"]
    rows = {"bicubic": info["vid4"]["bicubic"],
            "ours_cpu (float32)": info["vid4"]["float32"],
            "ours_cpu (mixed_bfloat16)": info["vid4"]["mixed_bfloat16"]}
    std = {k: v["standard"].average()["psnr_y"] for k, v in rows.items()}
    lines = [
        "# ours_cpu: the paper's final model trained at CPU SCALE",
        "",
        "**CPU SCALE — not the paper's data, not the paper's number of steps.** The paper's `ours` "
        "network (Table 5: 4,120,212 parameters here, L = 7, variational latent attention) trained "
        f"by this package on a 2-core CPU. Its numbers are not comparable to the paper's "
        f"{paper_psnr:.2f} dB.",
        "",
        "## Vid4 BI x4 (Y channel: PSNR dB / SSIM)",
        "",
        "Standard protocol (all frames, no border crop; BasicSR / mmagic):",
        "",
        _table(rows, "standard"),
        "",
        "Paper protocol (Table 4: first frame and last two dropped, 8-pixel border cropped):",
        "",
        _table(rows, "paper"),
        "",
        f"Gain over bicubic, standard protocol, Y: "
        f"**{std['ours_cpu (float32)'] - std['bicubic']:+.2f} dB** in float32, "
        f"{std['ours_cpu (mixed_bfloat16)'] - std['bicubic']:+.2f} dB in mixed_bfloat16 "
        f"(bfloat16 minus float32: "
        f"{std['ours_cpu (mixed_bfloat16)'] - std['ours_cpu (float32)']:+.3f} dB).",
        "",
        f"Inference on this machine (Vid4, whole sequences, L = 7): "
        f"{info['seconds_per_frame']['float32']:.3f} s/frame in float32, "
        f"{info['seconds_per_frame']['mixed_bfloat16']:.3f} s/frame in mixed_bfloat16.",
        "",
        "LR frames: the public Vid4 BIx4 frames where they exist (calendar), else made from the "
        "ground truth with the package's MATLAB-compatible bicubic (`bi`). Vid4 was used for "
        "nothing but these scores: not for training, not to pick a checkpoint (the last one is "
        "shipped), not to tune a setting.",
        "",
        "![training curves](ours_cpu_training.png)",
        "",
        "## How it was made",
        "",
        f"- Command: `{info['command']}` (it trains with `vsr-latent train --config ours "
        f"--budget cpu`, then scores and writes this card)",
        f"- Code: commit `{info['commit']}`",
        _training_line(info["config"], t),
        _stage2_line(info["config"]),
        f"- Wall time: **{t['wall_s'] / 3600:.2f} h** of training (from the first to the last "
        f"logged step"
        + (f", less {t['stopped_s'] / 60:.0f} min during which the run was stopped"
           if t.get("stopped_s") else "") + ")",
        f"- Hardware: {hardware.summary(info['hardware'])}",
        *([f"- Note: {info['note']}"] if info.get("note") else []),
        f"- Final validation PSNR (fixed crops of the validation clips, RGB): "
        f"{t['final_val_psnr']:.2f} dB (bicubic on the same crops: "
        f"{t['validation_bicubic_psnr']:.2f} dB)",
        "",
        "## Data and licences",
        "",
        f"Dataset root made with `{info['data_command']}`: {info['data']['train']} training clips "
        f"and {info['data']['validation']} validation clips of 40 frames, split by source "
        f"(validation sources: {', '.join(info['data']['validation_sources'])}). The clips are "
        "`../shared/data/train_clips` (see its SOURCES.md): ten DAVIS 2016 480p JPEG sequences "
        "and two DAVIS 2017 MP4s (BSD), SAM 2 demo footage (Apache-2.0), an openh264 conformance "
        "stream (BSD-2-Clause). " + (
            f"Frames larger than {info['data']['max_size']} were reduced to fit (MATLAB bicubic "
            "with antialiasing), which also softens their compression artefacts."
            if info["data"]["max_size"] else "Frames were kept at their stored size."),
        "",
        "## Known limits",
        "",
        "- CPU scale: a few thousand steps instead of the paper's 250 000; the network is far from "
        "converged.",
        "- Lossy footage: most training clips are JPEG (q about 75) or H.264 at 1.4-5 Mb/s, so "
        "fine texture in the ground truth is partly compression noise.",
        "- Not the paper's data (Harmonic, CDVL, SJTU 4K) and not its degradation for the "
        "ablations (`scipy`): trained for Vid4 BI x4.",
        "- Trained on clean bicubic LR: real camera video with noise or compression is outside "
        "what it has seen.",
    ]
    return "\n".join(lines) + "\n"


def _stage2_line(cfg):
    """One card line: how stage 2 propagated (older run folders have no ``stage2_forward``:
    they ran two passes, `config_json.LEGACY_STAGE2_FORWARD`)."""
    forward = cfg.get("stage2_forward", LEGACY_STAGE2_FORWARD)
    if forward == "two_pass":
        return ("- Stage 2: two forward passes a step (L_re on the mean path, L_vae on one sampled "
                "path; `stage2_forward=two_pass`, kept by the cpu budget), not the one sampled pass "
                "of §5.3 that the paper's configs default to")
    return ("- Stage 2: one sampled forward pass a step carrying L_re and L_vae "
            "(`stage2_forward=one_pass`, §5.3)")


def _training_line(cfg, t):
    """One card line: the run's steps, data, optimiser and speed (``cfg``: its config as a dict,
    ``t``: what its logs say)."""
    opt, data = cfg["optimizer"], cfg["data"]
    # Older run folders have no residual_init_scale: they were initialised with the default.
    init = cfg["model"].get("residual_init_scale", RESIDUAL_INIT_SCALE)
    init_text = ("" if init == RESIDUAL_INIT_SCALE else
                 f", residual layers initialised at variance scale {init:g} (Glorot: 1)")
    # Older run folders have no reconstruction_loss: they trained on the paper's L2.
    loss = cfg.get("reconstruction_loss", DEFAULT_RECONSTRUCTION_LOSS)
    loss_text = "" if loss == DEFAULT_RECONSTRUCTION_LOSS else f" ({loss} loss, not the paper's L2)"
    # Older run folders have no degrade_context: their crops were degraded alone (the paper's).
    context_text = (" (degraded with the frame around it, as whole frames are)"
                    if data.get("degrade_context") else "")
    return (
        f"- Steps: {t['steps']} ({cfg['stage1_steps']} stage 1 on L_re, "
        f"{cfg['stage2_steps']} stage 2 on L_re + L_vae{loss_text}), batch {data['batch_size']}, LR patch "
        f"{data['lr_patch']}x{data['lr_patch']}{context_text}, L = {cfg['model']['seq_len']}{init_text}, "
        "augmentation "
        f"{', '.join(data['augmentation']) or 'none'}; Adam, peak learning rate "
        f"{opt['learning_rate']:g} with {opt['warmup_steps']} warm-up steps and {opt['schedule']} "
        f"decay to {opt['min_learning_rate']:g}, gradients clipped to global norm "
        f"{opt['global_clipnorm']:g}; precision {cfg['precision']}; degradation "
        f"`{data['degradation']}`; {t['steps_per_s']:.2f} steps/s on average, validation "
        "included; median " + ", ".join(f"{k} {v:.2f}" for k, v in
                                        t["median_logged_steps_per_s"].items()) + " steps/s")


def _per_stage(steps_s, run_config):
    """{"stage 1": [steps/s ...], "stage 2": [...]} from the logged perf/steps_per_sec."""
    if not steps_s:
        return {}
    s, v, _ = steps_s
    k = run_config["stage1_steps"]
    out = {"stage 1": v[s <= k], "stage 2": v[s > k]}
    return {name: vals for name, vals in out.items() if len(vals)}


def _dataset_info(root):
    path = Path(root) / INDEX
    index = json.loads(path.read_text())
    splits = index.get("source_splits", {})
    return {**index_settings(index, path),
            "train": len(index["splits"]["train"]),
            "validation": len(index["splits"]["validation"]),
            "validation_sources": sorted(s for s, side in splits.items() if side == "validation")}


def _data_command(data):
    """The make_dataset command that gives a root with ``data``'s settings (the root the run
    trained on, which may differ from the budget's default)."""
    return cpu_data_command(data["clip_len"], data["max_size"])


def run_training(run_dir, run_config, stopped_s=0.0):
    """What a run's logs say: steps, wall time (less ``stopped_s``), speed, final validation
    PSNR."""
    scalars = read_scalars(run_folder.log_dir(run_dir) / "train",
                           CURVE_TAGS + ("perf/steps_per_sec",))
    steps_s = scalars.get("perf/steps_per_sec")
    val = scalars.get("psnr/validation")
    loss = scalars.get("loss/re")
    wall = float(loss[2][-1] - loss[2][0]) if loss is not None and len(loss[2]) > 1 else 0.0
    wall -= stopped_s
    steps = int(loss[0][-1]) if loss is not None else 0
    return scalars, {
        "steps": steps, "wall_s": wall, "stopped_s": stopped_s,
        "steps_per_s": (steps / wall) if wall else float("nan"),
        "median_logged_steps_per_s": {
            stage: float(np.median(v)) for stage, v in _per_stage(steps_s, run_config).items()},
        "final_val_psnr": float(val[1][-1]) if val is not None else float("nan"),
    }


def score_on_vid4(predictor, data):
    """({protocol: EvaluationResult}, seconds per frame) of ``predictor`` on Vid4 ``data``: each
    sequence upscaled once and scored under both `PROTOCOLS`."""
    results = evaluate_predictor_protocols(predictor, data, PROTOCOLS, progress=True)
    return results, results[PROTOCOLS[0]].seconds_per_frame


def remake(run_dir="runs/ours_cpu", data_root=None, *, vid4_root=None, out="results",
           install=False, note="", stopped_s=0.0, train=True, log=print):
    """Steps 1-4 of the module docstring; returns the model card (Markdown).

    Args:
      run_dir: the run folder (trained into, resumed, or reused when finished).
      data_root: the training dataset root (default: the cpu budget's,
        ``vsr_latent.configs.CPU_DATA_ROOT``), made when missing.
      vid4_root: the Vid4 folder (default: ``../shared/data/Vid4``).
      out: the results folder.
      install: copy the weights, the card and the figure into ``vsr_latent/pretrained/``.
      note: a sentence for the card's "How it was made" (e.g. pauses of the run).
      stopped_s: seconds the run was stopped between its first and last logged step (paused, or
        between a kill and its resume): left out of the wall time, and stated.
      train: False scores the run as it is (its model.keras) without training.
    """
    data_root = CPU_DATA_ROOT if data_root is None else data_root
    config = get_config("ours", budget="cpu", overrides=[f"data.source={data_root}"])
    run_dir = Path(run_dir)
    if train:
        ensure_dataset(data_root, log=log)
        trainer.train(config, run_dir, log=log)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keras_path = out / "ours_cpu.keras"
    model = run_folder.load_keras_model(run_folder.model_path(run_dir))
    with atomic_path(keras_path) as tmp:
        model.save(str(tmp))
    log(f"Weights: {keras_path} ({keras_path.stat().st_size / 2**20:.1f} MiB)")

    data = dataset_sequences("vid4", data_root=vid4_root, degradation="bi")
    vid4, seconds = {}, {}
    log("Scoring bicubic on Vid4")
    vid4["bicubic"], _ = score_on_vid4(load_predictor("bicubic", seq_len=7), data)
    for precision in CARD_PRECISIONS:
        log(f"Scoring ours_cpu ({precision}) on Vid4")
        predictor = load_predictor(str(keras_path), precision=precision)
        vid4[precision], seconds[precision] = score_on_vid4(predictor, data)

    # Through config_from_dict: run folders of older versions store the model differently.
    run_config = config_from_dict(json.loads((run_dir / "config.json").read_text()))
    data = _dataset_info(run_config.data.source)
    scalars, training = run_training(run_dir, run_config.to_dict(), stopped_s)
    info = {
        "config": run_config.to_dict(),
        "training": {**training, "validation_bicubic_psnr": validation_bicubic_psnr(run_config)},
        "vid4": vid4,
        "seconds_per_frame": seconds,
        "commit": git_commit() or "unknown",
        "command": "reproduce/ours_cpu.sh --install",
        "data": data,
        "data_command": _data_command(data),
        "hardware": hardware.describe(),
        "note": note,
    }
    training_curve_figure(scalars, out / "ours_cpu_training.png",
                          stage1_steps=run_config.stage1_steps,
                          bicubic=info["training"]["validation_bicubic_psnr"],
                          loss=run_config.reconstruction_loss)
    card = model_card(info)
    with atomic_path(out / "ours_cpu.md") as tmp:
        Path(tmp).write_text(card)
    summary = {**info, "vid4": {k: {p: r.to_dict() for p, r in v.items()} for k, v in vid4.items()}}
    with atomic_path(out / "ours_cpu.json") as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=1, default=str))
    if install:
        for name in ("ours_cpu.keras", "ours_cpu.md", "ours_cpu_training.png"):
            shutil.copyfile(out / name, FOLDER / name)
        log(f"Installed into {FOLDER}")
    return card
