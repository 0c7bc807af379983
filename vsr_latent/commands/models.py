"""``vsr-latent models``: every registered model with its parameter count and sequence length."""


def register(subparsers):
    parser = subparsers.add_parser(
        "models", help="list the registered models with parameter counts",
        description="List every model the paper names with its number of trainable parameters "
                    "and its default sequence length L.")
    parser.add_argument("--json", action="store_true",
                        help='print one JSON array of {"name", "params", "seq_len"}')
    parser.set_defaults(func=run)


def run(args):
    import json

    from vsr_latent.models import MODEL_NAMES, build_model, count_params

    rows = []
    for name in MODEL_NAMES:
        model = build_model(name)
        rows.append({"name": name, "params": count_params(model), "seq_len": model.seq_len})
        del model
    if args.json:
        print(json.dumps(rows))
    else:
        print(f"{'model':<10} {'params':>10} {'seq_len':>8}")
        for row in rows:
            print(f"{row['name']:<10} {row['params']:>10,} {row['seq_len']:>8}")
    return 0
