"""Inference benchmark: seconds per frame, peak memory, FLOPs and the share of the machine's
practical peak for the paper's models at Vid4 and REDS frame sizes, with and without XLA.

Every number of one run is measured in the same process, so ratios (achieved FLOP/s over the
matmul peak, long attention's share of the model's time) are meaningful on a shared machine
even when absolute seconds are not.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time

import keras
import numpy as np
import tensorflow as tf

from vsr_latent.hardware import describe
from vsr_latent.layers import LongAttention, ShortAttention
from vsr_latent.models import build_model, count_params
from vsr_latent.perf.backends import BACKENDS
from vsr_latent.perf.components import capture_layer_inputs, time_layers
from vsr_latent.perf.flops import bicubic_flops, count_flops
from vsr_latent.perf.memory import peak_memory_meter
from vsr_latent.perf.timing import PEAK_MATMUL_SIZE, matmul_peak, time_call
from vsr_latent.precision import dtype_policy
from vsr_latent.pretrained import PRETRAINED
from vsr_latent.serving.loading import load_model
from vsr_latent.serving.predictors import bicubic_upscale

BENCH_MODELS = ("ours", "res16", "satn10", "latn10", "bicubic")

# LR frame sizes (H, W): Vid4 (144x180 -> 576x720) and REDS (320x180 -> 1280x720).
SIZES = {"vid4": (144, 180), "reds": (180, 320)}

# Frames per clip for every model (the paper's final L = 7, §6.2), so all rows are comparable.
BENCH_SEQ_LEN = 7

# --quick: tiny models on tiny frames, one timed repeat: a check that everything runs.
QUICK_SIZES = {"tiny": (16, 20)}
QUICK_SEQ_LEN = 3
QUICK_OVERRIDES = {"filters": 8, "num_layers": 5}
QUICK_MATMUL_SIZE = 256
# ``ours`` has both kinds of attention block, so --quick exercises every code path.
QUICK_MODELS = ("ours", "bicubic")

ATTENTION_SHARE_METHOD = (
    "each long-attention block timed alone (own tf.function, same XLA setting) on the "
    "activations it receives inside the full model, summed, divided by the full model's time "
    "(share: wall clock; share_cpu_time: process CPU seconds)")

BREAKDOWN_METHOD = (
    "extractor/upscaler Conv3D layers, short- and long-attention blocks each timed alone on their "
    "own activations (same XLA setting); remainder = full model minus the parts")


@dataclasses.dataclass
class BenchSettings:
    models: tuple = BENCH_MODELS
    sizes: tuple = tuple(SIZES)
    xla: tuple = (False, True)
    backends: tuple = ("tensorflow",)
    repeats: int = 3
    warmup: int = 1
    seq_len: int = BENCH_SEQ_LEN
    quick: bool = False
    breakdown: bool = False
    attention_budget: int | None = -1  # -1: the model's default
    precision: str = "float32"  # or a Keras mixed precision policy: mixed_float16, mixed_bfloat16
    matmul_size: int = PEAK_MATMUL_SIZE

    @classmethod
    def quick_settings(cls, **overrides):
        base = {"models": QUICK_MODELS, "sizes": tuple(QUICK_SIZES), "repeats": 1, "warmup": 1,
                "seq_len": QUICK_SEQ_LEN, "quick": True, "matmul_size": QUICK_MATMUL_SIZE}
        base.update(overrides)
        return cls(**base)

    def frame_size(self, size):
        table = QUICK_SIZES if self.quick else SIZES
        if size not in table and size in SIZES:
            return SIZES[size]
        return table[size]


def _on_gpu():
    return bool(tf.config.list_logical_devices("GPU"))


def machine_info():
    """CPU/GPU names and versions (``vsr_latent.hardware``) plus the load average."""
    info = describe()
    info["load_average_1min"] = os.getloadavg()[0]
    return info


def build_bench_model(name, settings):
    overrides = dict(QUICK_OVERRIDES) if settings.quick else {}
    if settings.quick and name == "res16":
        overrides["num_layers"] = 2
    if settings.attention_budget != -1:
        overrides["max_attention_elements"] = settings.attention_budget

    if name in PRETRAINED and not settings.quick:
        # The shipped weights: same speed as fresh ones, but the row times what users run.

        return load_model(name, precision=settings.precision)
    name = PRETRAINED[name].model if name in PRETRAINED else name
    with dtype_policy(settings.precision):
        return build_model(name, seq_len=settings.seq_len, **overrides)


def _long_attention_share(model, x, xla, settings, timing):
    pairs = capture_layer_inputs(model, x, [(LongAttention, lambda layer: True)])
    if not pairs:
        return None
    times = time_layers(pairs, xla=xla, repeats=settings.repeats, warmup=settings.warmup,
                        cpu=True)
    seconds = sum(t[1] for t in times)
    cpu = sum(t[2] for t in times)
    return {"seconds_per_clip": seconds, "share": seconds / timing.median,
            "cpu_seconds_per_clip": cpu, "share_cpu_time": cpu / timing.cpu_median,
            "blocks": len(times), "method": ATTENTION_SHARE_METHOD}


def _breakdown(model, x, xla, settings, timing, report):
    def outside_attention(layer):
        return "attention" not in layer.path

    pairs = capture_layer_inputs(model, x, [
        (keras.layers.Conv3D, outside_attention),
        (ShortAttention, lambda layer: True),
        (LongAttention, lambda layer: True)])
    times = time_layers(pairs, xla=xla, repeats=settings.repeats, warmup=settings.warmup,
                        cpu=True)
    model_seconds, model_cpu = timing.median, timing.cpu_median
    parts = {"conv3d_extractor_upscaler": 0.0, "short_attention": 0.0, "long_attention": 0.0}
    cpu_parts = dict.fromkeys(parts, 0.0)
    for layer, seconds, cpu in times:
        if isinstance(layer, LongAttention):
            key = "long_attention"
        elif isinstance(layer, ShortAttention):
            key = "short_attention"
        else:
            key = "conv3d_extractor_upscaler"
        parts[key] += seconds
        cpu_parts[key] += cpu
    flops = {
        "conv3d_extractor_upscaler": report.where(
            lambda e: e.kind == "conv" and "attention" not in e.path),
        "short_attention": report.where(lambda e: e.component.startswith("short_attention")),
        "long_attention": report.where(lambda e: e.component.startswith("long_attention")),
    }
    out = {}
    for key, seconds in parts.items():
        if seconds == 0.0 and flops[key] == 0:
            continue
        cpu = cpu_parts[key]
        out[key] = {"seconds_per_clip": seconds, "share": seconds / model_seconds,
                    "cpu_seconds_per_clip": cpu, "share_cpu_time": cpu / model_cpu,
                    "flops_per_clip": flops[key],
                    "flops_per_s": flops[key] / seconds if seconds else None,
                    "flops_per_cpu_s": flops[key] / cpu if cpu else None}
    rest = model_seconds - sum(parts.values())
    rest_cpu = model_cpu - sum(cpu_parts.values())
    out["remainder"] = {"seconds_per_clip": rest, "share": rest / model_seconds,
                        "cpu_seconds_per_clip": rest_cpu, "share_cpu_time": rest_cpu / model_cpu,
                        "flops_per_clip": report.total - sum(flops.values())}
    out["method"] = BREAKDOWN_METHOD
    return out


def _base_row(name, size, shape, settings, backend, xla, peak):
    return {
        "model": name, "size": size, "input_shape": list(shape),
        "output_shape": [shape[0], shape[1], 4 * shape[2], 4 * shape[3], 3],
        "backend": backend, "xla": xla, "precision": settings.precision, "quick": settings.quick,
        "repeats": settings.repeats, "warmup": settings.warmup,
        "matmul_peak_flops_per_s": peak["flops_per_s"],
        "matmul_peak_size": peak["size"],
        "error": None,
    }


def _finish_row(row, timing, frames, flops, memory, method, peak):
    seconds = timing.median
    row.update({
        "seconds_per_clip": seconds,
        "seconds_per_frame": seconds / frames,
        "seconds_all": timing.seconds,
        "peak_memory_bytes": memory,
        "memory_method": method,
        "flops_per_frame": flops / frames,
        "achieved_flops_per_s": flops / seconds,
        "fraction_of_matmul_peak": flops / seconds / peak["flops_per_s"],
        "cpu_seconds_per_clip": timing.cpu_median,
        "achieved_flops_per_cpu_s": flops / timing.cpu_median if timing.cpu_median else None,
    })
    return row


def bench_bicubic(size, settings, peak):
    """The numpy bicubic baseline (``serving.predictors.bicubic_upscale``): no XLA, no backend
    choice."""
    h, w = settings.frame_size(size)
    shape = (1, settings.seq_len, h, w, 3)
    row = _base_row("bicubic", size, shape, settings, "numpy", None, peak)
    row["precision"] = "float32"
    x = np.random.default_rng(0).uniform(0, 255, shape[1:]).astype(np.float32)
    meter, method = peak_memory_meter(False)
    with meter:
        timing = time_call(bicubic_upscale, x, repeats=settings.repeats, warmup=settings.warmup)
    _finish_row(row, timing, shape[1], bicubic_flops(shape), meter.peak_delta, method, peak)
    row.update(params=0, flops_by_kind_per_frame={"bicubic": bicubic_flops(shape) / shape[1]},
               softmax_elements_per_frame=0, long_attention=None)
    return row


def bench_model(name, size, xla, settings, peak, backend_name="tensorflow", model=None):
    """One row (a dict) for model ``name`` at ``size`` with XLA ``xla`` on ``backend_name``."""
    h, w = settings.frame_size(size)
    shape = (1, settings.seq_len, h, w, 3)
    backend = BACKENDS[backend_name]
    row = _base_row(name, size, shape, settings, backend_name, xla, peak)
    model = model or build_bench_model(name, settings)
    report = count_flops(model, shape)
    frames = shape[1]
    row.update(params=count_params(model),
               flops_by_kind_per_frame={k: v / frames for k, v in report.by_kind().items()},
               softmax_elements_per_frame=report.softmax_elements / frames,
               attention_budget=model.config.max_attention_elements)
    x = tf.random.stateless_uniform(shape, seed=(1, 2), minval=0.0, maxval=255.0)
    fn = backend.prepare(model, shape, xla=xla)
    # The meter covers the first call too: that is where the activations are first allocated
    # (later calls reuse memory the allocator keeps, which an RSS delta would not show).
    meter, method = peak_memory_meter(_on_gpu())
    with meter:
        t0 = time.perf_counter()
        for _ in range(settings.warmup):
            fn(x)
        row["first_call_seconds"] = time.perf_counter() - t0
        timing = time_call(fn, x, repeats=settings.repeats, warmup=0)
    _finish_row(row, timing, frames, report.total, meter.peak_delta, method, peak)
    row["long_attention"] = None
    if backend_name == "tensorflow":
        row["long_attention"] = _long_attention_share(model, x, xla, settings, timing)
        if settings.breakdown:
            row["breakdown"] = _breakdown(model, x, xla, settings, timing, report)
    return row


def _with_peak(settings, measure):
    """Run ``measure(peak)`` between two matmul-peak measurements; the row's peak is their mean
    (the machine's load may drift during a long run; both sides of the ratio see it)."""
    before = matmul_peak(settings.matmul_size)
    row = measure(before)
    after = matmul_peak(settings.matmul_size)
    mean = 0.5 * (before["flops_per_s"] + after["flops_per_s"])
    mean_cpu = 0.5 * (before["flops_per_cpu_s"] + after["flops_per_cpu_s"])
    row["matmul_peak_flops_per_s"] = mean
    row["matmul_peak_before_after"] = [before["flops_per_s"], after["flops_per_s"]]
    row["matmul_flops_per_cpu_s"] = mean_cpu
    if row.get("achieved_flops_per_s"):
        row["fraction_of_matmul_peak"] = row["achieved_flops_per_s"] / mean
    if row.get("achieved_flops_per_cpu_s"):
        row["fraction_of_matmul_peak_cpu_time"] = row["achieved_flops_per_cpu_s"] / mean_cpu
    return row


def run_benchmark(settings, log=None, on_row=None):
    """Every row of ``settings`` (a list of dicts, one per model x size x backend x xla).

    The matmul peak is measured right before and after every row (``_with_peak``).
    ``on_row(rows)`` is called after each row with the rows so far (to save partial results)."""
    info = machine_info()
    rows = []
    for name in settings.models:
        for size in settings.sizes:
            if name == "bicubic":
                rows.append(_with_peak(settings, functools.partial(bench_bicubic, size, settings)))
                rows[-1]["machine"] = info
                if log:
                    log(describe_row(rows[-1]))
                if on_row:
                    on_row(rows)
                continue
            model = None
            for backend_name in settings.backends:
                backend = BACKENDS[backend_name]
                for xla in (settings.xla if backend.supports_xla else (False,)):
                    try:
                        ok, reason = backend.available()
                        if not ok:
                            raise RuntimeError(f"backend {backend_name} unavailable: {reason}")
                        if model is None:
                            model = build_bench_model(name, settings)
                        row = _with_peak(settings, functools.partial(
                            bench_model, name, size, xla, settings, backend_name=backend_name,
                            model=model))
                    except Exception as e:  # noqa: BLE001 - one failed row must not end the run
                        peak = {"flops_per_s": None, "size": settings.matmul_size}
                        row = _base_row(name, size, (1, settings.seq_len) + tuple(
                            settings.frame_size(size)) + (3,), settings, backend_name, xla, peak)
                        row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:500]
                    row["machine"] = info
                    rows.append(row)
                    if log:
                        log(describe_row(row))
                    if on_row:
                        on_row(rows)
            model = None  # free it before clearing the session
            keras.backend.clear_session()
    return rows


def describe_row(row):
    """One human-readable line for a row."""
    xla = {True: "xla", False: "no-xla", None: "-"}[row["xla"]]
    peak = row.get("matmul_peak_flops_per_s")
    head = f"{row['model']:8s} {row['size']:5s} {row['backend']:11s} {xla:6s}"
    if row.get("error"):
        return f"{head} ERROR {row['error']}"
    if row.get("precision", "float32") != "float32":
        head += f" {row['precision']}"
    text = (f"{head} {row['seconds_per_frame']:8.4f} s/frame  "
            f"{row['flops_per_frame'] / 1e9:7.2f} GFLOP/frame  "
            f"{row['achieved_flops_per_s'] / 1e9:7.1f} GFLOP/s  "
            f"{100 * row['fraction_of_matmul_peak']:5.1f}% of matmul ({peak / 1e9:.0f}) "
            f"[{100 * row.get('fraction_of_matmul_peak_cpu_time', 0):5.1f}% per CPU-s]  "
            f"peak mem {row['peak_memory_bytes'] / 2**20:8.1f} MiB")
    if row.get("long_attention"):
        la = row["long_attention"]
        text += (f"  long attention {100 * la['share']:.1f}% "
                 f"[{100 * la.get('share_cpu_time', 0):.1f}% per CPU-s]")
    return text
