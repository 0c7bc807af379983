"""Inference benchmark driver: runs ``vsr-latent benchmark`` and renders its JSON as the tables of
``benchmarks/RESULTS.md``.

    python benchmarks/inference.py run [benchmark options] --output results/x.json
    python benchmarks/inference.py table results/a.json [results/b.json ...]

``run`` takes the options of ``vsr-latent benchmark`` (``--models``, ``--sizes``, ``--xla``,
``--precision``, ``--breakdown``, ...). ``table`` prints one markdown row per JSON row: seconds
per frame, GFLOP per frame, achieved GFLOP/s, the ratio to the matmul peak measured beside the
row (wall clock and per CPU-second), peak memory and long attention's share.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

HEADER = ("| model | size | backend | XLA | precision | s/frame | GFLOP/frame | GFLOP/s | "
          "% of matmul (wall) | % of matmul (CPU-s) | matmul GFLOP/s | peak mem MiB | "
          "long attention % |")


def _pct(value):
    return "" if value is None else f"{100 * value:.1f}"


def markdown_rows(rows):
    lines = [HEADER, "|" + "---|" * (HEADER.count("|") - 1)]
    for r in rows:
        xla = {True: "on", False: "off", None: "-"}[r.get("xla")]
        head = (f"| {r['model']} | {r['size']} | {r['backend']} | {xla} | "
                f"{r.get('precision', 'float32')} |")
        if r.get("error"):
            lines.append(head + f" error: {r['error'][:80]} |" + " |" * 8)
            continue
        share = (r.get("long_attention") or {}).get("share")
        lines.append(
            head + f" {r['seconds_per_frame']:.3f} | {r['flops_per_frame'] / 1e9:.1f} | "
            f"{r['achieved_flops_per_s'] / 1e9:.1f} | {_pct(r.get('fraction_of_matmul_peak'))} | "
            f"{_pct(r.get('fraction_of_matmul_peak_cpu_time'))} | "
            f"{r['matmul_peak_flops_per_s'] / 1e9:.0f} | {r['peak_memory_bytes'] / 2**20:.0f} | "
            f"{_pct(share)} |")
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in ("run", "table"):
        print(__doc__)
        return 2
    if argv[0] == "run":
        from vsr_latent.cli import main as cli_main

        return cli_main(["benchmark"] + argv[1:])
    rows = []
    for path in argv[1:]:
        with open(path, encoding="utf-8") as f:
            rows.extend(json.load(f))
    print(markdown_rows(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
