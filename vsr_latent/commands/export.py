"""``vsr-latent export --model SPEC OUT_DIR``: write a model as a SavedModel."""

FORMATS = ("saved_model", "onnx")


def register(subparsers):
    parser = subparsers.add_parser(
        "export", help="export a model as a SavedModel",
        description="Write a model as a TensorFlow SavedModel with a serving signature "
                    "(frames float32 [batch, L, H, W, 3] on [0, 255] -> {'sr': [batch, L, 4H, "
                    "4W, 3]}). SPEC is a pretrained name (ours_cpu), a registry model name "
                    "(fresh weights), a .keras file or a training run folder.")
    parser.add_argument("--model", required=True, metavar="SPEC",
                        help="pretrained name (ours_cpu), registry name, .keras file or run folder")
    parser.add_argument("--format", choices=FORMATS, default="saved_model",
                        help="output format (default: saved_model; onnx: an .onnx file through "
                             "tf2onnx, needs pip install 'vsr_latent[onnx]')")
    parser.add_argument("--seq_len", type=int, default=None,
                        help="nominal sequence length of a registry model")
    parser.add_argument("out_dir", metavar="OUT_DIR",
                        help="output folder, or .onnx file with --format onnx (replaced atomically)")
    parser.set_defaults(func=run)


def resolve_model(spec, seq_len=None):
    """A ``VSRNet`` from a registry name, a ``.keras`` file or a training run folder."""
    from pathlib import Path

    from vsr_latent.errors import CheckpointError, ConfigError
    from vsr_latent.models import MODEL_NAMES, build_model

    from vsr_latent.pretrained import PRETRAINED, is_pretrained, load_pretrained

    path = Path(spec)
    if is_pretrained(spec) and not path.exists():
        return load_pretrained(spec)
    if str(spec).lower() in MODEL_NAMES and not path.exists():
        return build_model(spec, seq_len=seq_len)
    if path.is_file() and path.suffix == ".keras":
        from vsr_latent.export import load_keras

        try:
            return load_keras(path)
        except Exception as e:  # corrupt or foreign file: say which
            raise CheckpointError(f"{path}: cannot load the .keras file ({e})") from e
    if path.is_dir() and (path / "config.json").is_file():
        try:
            from vsr_latent.training import restore_model
        except ImportError as e:
            raise ConfigError(f"{path}: run folders need vsr_latent.training ({e})") from e
        return restore_model(path)
    if path.exists():
        raise ConfigError(f"{path}: not a .keras file or a run folder (with config.json)")
    raise ConfigError(
        f"{spec!r}: no such file or folder, and not a model name (known: "
        f"{', '.join(tuple(PRETRAINED) + tuple(MODEL_NAMES))})")


def run(args):
    from vsr_latent.export import export_saved_model

    if args.format == "onnx":
        from vsr_latent.onnx_export import run_export_command

        return run_export_command(args, resolve_model)
    model = resolve_model(args.model, seq_len=args.seq_len)
    out = export_saved_model(model, args.out_dir)
    print(f"wrote SavedModel {out} ({model.name}, seq_len {model.seq_len}, scale {model.scale})")
    return 0
