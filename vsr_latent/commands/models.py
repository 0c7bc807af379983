"""``vsr-latent models``: every registered model with its parameter count and sequence length."""

import json

from vsr_latent.serving.loading import model_catalogue


def register(subparsers):
    parser = subparsers.add_parser(
        "models", help="list the registered models with parameter counts",
        description="List every model the paper names with its number of trainable parameters "
                    "and its default sequence length L.")
    parser.add_argument("--json", action="store_true",
                        help='print one JSON array of {"name", "params", "seq_len", "weights"} '
                             '(pretrained entries add "file" and "summary")')
    parser.set_defaults(func=run)


def run(args):
    rows = model_catalogue()
    if args.json:
        print(json.dumps(rows))
    else:
        print(f"{'model':<10} {'params':>10} {'seq_len':>8}  weights")
        for row in rows:
            extra = f": {row['summary']}" if "summary" in row else ""
            print(f"{row['name']:<10} {row['params']:>10,} {row['seq_len']:>8}  "
                  f"{row['weights']}{extra}")
    return 0
