"""``vsr-latent export --model SPEC OUT_DIR``: write a model as a SavedModel or an ONNX file."""

from vsr_latent.serving.export import FORMATS, export_model

#: How this command spells the settings of load_predictor that its errors name.
FIELD_FLAGS = {"seq_len": "--seq_len"}


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


def run(args):
    written = export_model(args.model, args.out_dir, format=args.format, seq_len=args.seq_len)
    facts = f"{written['model']}, seq_len {written['seq_len']}, scale {written['scale']}"
    if written["format"] == "onnx":
        print(f"wrote ONNX {written['path']} ({facts}, opset {written['opset']}); onnxruntime "
              f"agrees with Keras to {written['max_abs_diff']:.2g} (max abs on [0, 255], "
              f"tolerance {written['tolerance']:.2g})")
    else:
        print(f"wrote SavedModel {written['path']} ({facts})")
    return 0
