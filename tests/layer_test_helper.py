"""One check every layer of the package goes through (keras-hub style ``run_layer_test``).

It checks: ``get_config`` / ``from_config`` round trip (also through Keras serialization by the
registered name), an eager call and a symbolic (functional) call with the expected output shape,
the numbers of trainable and non-trainable weights and parameters, equal outputs of a layer
rebuilt from config with the same weights, one ``fit`` step that changes every trainable
weight that gets a gradient, and the precision check (Keras' own layer tests have one): built
with ``dtype="mixed_float16"`` / ``"mixed_bfloat16"`` and the float32 layer's weights, the layer
and every sub-layer take that policy, the weights stay float32, and the output is finite, of the
policy's compute dtype and within ``PRECISION_TOLERANCE`` of the float32 output.
"""

import keras
import numpy as np

# Largest max |y_policy - y_float32| / max(1, max |y_float32|) of one layer: float16 keeps 11
# significant bits (4.9e-4 relative rounding), bfloat16 8 (3.9e-3); a layer chains a few
# convolutions and sums of tens of terms, so a few dozen roundings add up.
PRECISION_TOLERANCE = {"mixed_float16": 1e-2, "mixed_bfloat16": 5e-2}


def run_layer_test(layer_cls, init_kwargs, input_shape, expected_output_shape,
                   expected_num_trainable_weights, expected_num_non_trainable_weights=0,
                   expected_num_params=None, seed=0, frozen_weight_substrings=(),
                   output_index=None):
    """``output_index`` picks the checked output of a layer that returns a tuple."""
    pick = (lambda out: out) if output_index is None else (lambda out: out[output_index])
    rng = np.random.default_rng(seed)
    x = rng.normal(size=input_shape).astype("float32")

    # Config round trip, also through the registered serialization name.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key in init_kwargs:
        assert key in config, f"get_config lacks constructor argument {key!r}"
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is layer_cls and revived.get_config() == config

    # Eager call.
    y = pick(layer(x))
    assert tuple(y.shape) == tuple(expected_output_shape)
    assert np.all(np.isfinite(y.numpy()))
    assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    if expected_num_params is not None:
        n = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        assert n == expected_num_params, n

    # A layer rebuilt from config with the same weights computes the same numbers.
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(pick(clone(x)).numpy(), y.numpy(), rtol=1e-5, atol=1e-5)

    # Symbolic call in a functional model with unknown frame count and size.
    inputs = keras.Input(shape=(None, None, None, input_shape[-1]))
    sym_layer = layer_cls.from_config(config)
    outputs = pick(sym_layer(inputs))
    assert outputs.shape[-1] == expected_output_shape[-1]
    model = keras.Model(inputs, outputs)
    sym_layer.set_weights(layer.get_weights())
    np.testing.assert_allclose(model(x).numpy(), y.numpy(), rtol=1e-5, atol=1e-5)

    # One fit step moves the weights.
    target = rng.normal(size=expected_output_shape).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.numpy().copy() for w in sym_layer.trainable_weights]
    history = model.fit(x, target, batch_size=input_shape[0], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, sym_layer.trainable_weights)]
    for w, moved in zip(sym_layer.trainable_weights, changed):
        if not any(s in w.path for s in frozen_weight_substrings):
            assert moved, f"{w.path} did not change in a fit step"

    check_precision(layer_cls, init_kwargs, layer, x, y, pick)
    return layer, y


def check_precision(layer_cls, init_kwargs, reference, x, y, pick=lambda out: out):
    """The layer built under each mixed policy with ``reference``'s weights: policy passed down to
    every sub-layer, float32 weights, finite output of the compute dtype close to ``y``."""
    y = keras.ops.convert_to_numpy(y)
    for policy, tolerance in PRECISION_TOLERANCE.items():
        layer = layer_cls(**init_kwargs, dtype=policy)
        layer(x)
        layer.set_weights(reference.get_weights())
        for sub in layer._flatten_layers(include_self=True):
            assert sub.dtype_policy.name == policy, f"{sub.name}: {sub.dtype_policy.name}"
        assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
        out = pick(layer(x))
        compute = keras.backend.standardize_dtype(out.dtype)
        assert compute == layer.dtype_policy.compute_dtype, (policy, compute)
        out = keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))
        assert np.all(np.isfinite(out)), policy
        error = float(np.abs(out - y).max()) / max(1.0, float(np.abs(y).max()))
        assert error <= tolerance, f"{layer_cls.__name__} {policy}: error {error:.2e} > {tolerance}"
