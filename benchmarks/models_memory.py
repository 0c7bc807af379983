"""Peak memory of one process that trains and scores N models, against N (a table's pattern).

    python benchmarks/models_memory.py [--config table1_latn10] [--budget tiny] [--counts 1 6]

For each N, a fresh process trains N runs of one config (``vsr_latent.training.train``, each in
its own run folder) and scores each on the validation data as the tables do
(``paper.measure.score_validation`` of the run's saved model), one after the other; the number is
that process's own peak RSS (``ru_maxrss``). A table's peak must not grow with its number of
models (``vsr_latent.training.graph_memory`` says what made it grow).
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHILD = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from vsr_latent.configs import get_config
from vsr_latent.data.pipelines import validation_chunks
from vsr_latent.paper import measure
from vsr_latent.serving.loading import load_predictor
from vsr_latent.training.graph_memory import released_custom_gradients
from vsr_latent.training.trainer import train

name, budget, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if sys.argv[5] == "keep":  # the baseline: TensorFlow's registrations kept, as before the fix
    import contextlib
    from vsr_latent.training import trainer
    trainer.released_custom_gradients = released_custom_gradients = contextlib.nullcontext
for i in range(count):
    config = get_config(name, budget=budget)
    run_dir = os.path.join(out, f"run{i}")
    train(config, run_dir, progress=False, log=lambda m: None)
    chunks = [(f"c{j}", lr[0], hr[0]) for j, (lr, hr, _) in enumerate(validation_chunks(
        config.data.source, seq_len=config.model.seq_len, max_clips=2)())]
    with released_custom_gradients():
        predictor = load_predictor(os.path.join(run_dir, "model.keras"),
                                   seq_len=config.model.seq_len)
        print(f"model {i + 1}: validation {measure.score_validation(predictor, chunks):.2f} dB",
              flush=True)
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\\n\\n")[0])
    p.add_argument("--config", default="table1_latn10")
    p.add_argument("--budget", default="tiny")
    p.add_argument("--counts", type=int, nargs="+", default=[1, 6])
    p.add_argument("--keep_registrations", action="store_true",
                   help="baseline: keep TensorFlow's custom-gradient registrations (no release)")
    args = p.parse_args(argv)
    from vsr_latent.perf.memory import run_child_max_rss

    peaks = {}
    for count in args.counts:
        with tempfile.TemporaryDirectory() as out:
            rc, peak, seconds, text = run_child_max_rss(
                [sys.executable, "-c", CHILD, args.config, args.budget, str(count), out,
                 "keep" if args.keep_registrations else "release"],
                cwd=str(Path(__file__).resolve().parent.parent))
        if rc:
            sys.exit(f"{count} models failed: {text[-2000:]}")
        peaks[count] = peak
        print(f"{args.config} at the {args.budget} budget, {count} model(s) in one process: "
              f"peak RSS {peak / 2**20:,.0f} MiB, {seconds:.0f} s", flush=True)
    first = args.counts[0]
    for count in args.counts[1:]:
        print(f"{count} models / {first}: {peaks[count] / peaks[first]:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
