"""``vsr-latent models``: every registered model with its parameter count and sequence length."""


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
    import json

    from vsr_latent.models import MODEL_NAMES, build_model, count_params
    from vsr_latent.pretrained import PRETRAINED

    rows = []
    for name in MODEL_NAMES:
        model = build_model(name)
        rows.append({"name": name, "params": count_params(model), "seq_len": model.seq_len,
                     "weights": "fresh"})
        del model
    for entry in PRETRAINED.values():
        model = build_model(entry.model)
        rows.append({"name": entry.name, "params": count_params(model), "seq_len": model.seq_len,
                     "weights": "pretrained" if entry.path.is_file() else "pretrained (missing)",
                     "file": str(entry.path), "summary": entry.summary})
        del model
    if args.json:
        print(json.dumps(rows))
    else:
        print(f"{'model':<10} {'params':>10} {'seq_len':>8}  weights")
        for row in rows:
            extra = f": {row['summary']}" if "summary" in row else ""
            print(f"{row['name']:<10} {row['params']:>10,} {row['seq_len']:>8}  "
                  f"{row['weights']}{extra}")
    return 0
