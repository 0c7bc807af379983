"""Long (block-sparse non-local) attention over every key frame: exact and memory-bounded."""

import warnings

import keras
from keras import backend, ops

from vsr_latent.architecture import ATTENTION_BUDGET_ELEMENTS, LEAKY_SLOPE
from vsr_latent.layers.shapes import (
    crop_spatial,
    fold_time,
    pad_spatial,
    pool_spatial,
    unfold_time,
)
from vsr_latent.layers.variational import VariationalHead

# Keras warns about a softmax over an axis of size 1. Here that axis is the key positions, and a
# clip with one key position (a short or tiny input) does attend to it with weight 1, as it should.
warnings.filterwarnings("ignore", message="You are using a softmax over axis", category=UserWarning)


def _imax(a, b):
    """max of two sizes, each a Python int (static) or a scalar tensor (dynamic)."""
    return max(a, b) if isinstance(a, int) and isinstance(b, int) else ops.maximum(a, b)


def _imin(a, b):
    return min(a, b) if isinstance(a, int) and isinstance(b, int) else ops.minimum(a, b)


def _split_queries(x, chunk, num_chunks):
    """(B, M, D) -> (num_chunks, B, chunk, D), zero rows appended to fill the last chunk."""
    batch, num, depth = ops.shape(x)
    padded = ops.pad(x, [[0, 0], [0, num_chunks * chunk - num], [0, 0]])
    return ops.transpose(ops.reshape(padded, (batch, num_chunks, chunk, depth)), (1, 0, 2, 3))


def _join_queries(chunks, num):
    """Inverse of ``_split_queries``: (num_chunks, B, chunk, D) -> (B, num, D)."""
    num_chunks, batch, chunk, depth = ops.shape(chunks)
    joined = ops.reshape(ops.transpose(chunks, (1, 0, 2, 3)), (batch, num_chunks * chunk, depth))
    return joined[:, :num]


def _chunked_attention(query, key, value, chunk):
    """Exact attention over query chunks, with a backward pass that is chunked too.

    Both passes are ``keras.ops`` loops over the chunks (``ops.fori_loop``, and ``ops.scan``
    outside TensorFlow: a ``while_loop`` under TensorFlow, ``lax.scan`` / ``lax.fori_loop`` under
    JAX). The gradient recomputes
    each chunk's softmax instead of keeping all of them (which together are the full attention
    matrix), so training memory is bounded like inference memory.
    """
    batch, num_q, depth = ops.shape(query)
    depth_v = ops.shape(value)[-1]
    num_chunks = (num_q + chunk - 1) // chunk

    @ops.custom_gradient
    def attend(query, key, value):
        out = _forward_chunks(_split_queries(query, chunk, num_chunks), key, value,
                              (num_chunks, batch, chunk, depth_v))

        def grad(*args, upstream=None):
            d_out = args[0] if upstream is None else upstream
            q_chunks = _split_queries(query, chunk, num_chunks)
            d_chunks = _split_queries(d_out, chunk, num_chunks)  # zero rows: no contribution

            # One pass over the chunks: (d_key, d_value) are sums over the chunks, each chunk's
            # d_query is written into its slot of a buffer of the queries' size.
            def backward_step(i, carry):
                d_key, d_value, d_query = carry
                # Why: TensorFlow's while_loop (behind ops.fori_loop) runs up to 10 iterations at
                # once, each with its chunk's (chunk x K) matrices alive, which breaks the memory
                # bound. Adding a zero computed from the previous chunk's last sum to this chunk's
                # inputs makes each chunk wait for the one before; exact (x + 0 is x), one scalar
                # op per chunk. The einsums contract over the chunk axis without a transposed copy
                # of the (chunk x K) matrices.
                after_previous = ops.sum(d_key[:1, :1, :1]) * 0
                q, d = q_chunks[i] + after_previous, d_chunks[i] + after_previous
                p = attention_weights(q, key)
                d_value = d_value + ops.einsum("bmk,bmd->bkd", p, d)
                dp = ops.matmul(d, ops.swapaxes(value, 1, 2))
                ds = p * (dp - ops.sum(dp * p, axis=-1, keepdims=True))
                d_key = d_key + ops.einsum("bmk,bmd->bkd", ds, q)
                d_query = ops.scatter_update(
                    d_query, ops.reshape(i, (1, 1)), ops.matmul(ds, key)[None])
                return d_key, d_value, d_query

            d_key, d_value, d_query = ops.fori_loop(
                0, num_chunks, backward_step,
                (ops.zeros_like(key), ops.zeros_like(value), ops.zeros_like(q_chunks)))
            return _join_queries(d_query, num_q), d_key, d_value

        return _join_queries(out, num_q), grad

    return attend(query, key, value)


def _forward_chunks(q_chunks, key, value, out_shape):
    """``softmax(q key^T) value`` of each query chunk, in turn: (num_chunks, B, chunk, Dv)."""
    if backend.backend() != "tensorflow":
        def forward_step(_, q):
            out = ops.matmul(attention_weights(q, key), value)
            return out, out

        return ops.scan(forward_step, ops.zeros(out_shape[1:], value.dtype), q_chunks)[1]

    # Under TensorFlow a while loop whose state is a plain tensor: ``ops.scan`` keeps its carry
    # in a TensorArray, which tf2onnx cannot convert to an ONNX Loop (the ONNX export). As in the
    # backward pass, a zero computed from the previous chunk's result makes each chunk wait for
    # the one before, so one chunk's (chunk x K) matrix is alive at a time.
    def forward_step(i, out):
        q = q_chunks[i] + ops.sum(out[:1, :1, :1, :1]) * 0
        return ops.scatter_update(
            out, ops.reshape(i, (1, 1)), ops.matmul(attention_weights(q, key), value)[None])

    return ops.fori_loop(0, out_shape[0], forward_step, ops.zeros(out_shape, value.dtype))


def attention_weights(query, key):
    """``softmax(query key^T)`` over the key axis (eq. 10, no 1/sqrt(d) scaling): query
    (B, M, D), key (B, K, D) -> (B, M, K).

    In float16 the logits and the softmax are computed in float32: without the 1/sqrt(d)
    scaling, logits of a few hundred already overflow float16's exponential. bfloat16 has
    float32's range and stays in its own dtype, as float32 does.
    """
    if backend.standardize_dtype(query.dtype) == "float16":
        logits = ops.matmul(ops.cast(query, "float32"), ops.swapaxes(ops.cast(key, "float32"), 1, 2))
        return ops.cast(ops.softmax(logits, axis=-1), "float16")
    return ops.softmax(ops.matmul(query, ops.swapaxes(key, 1, 2)), axis=-1)


def softmax_attention(query, key, value, max_elements=ATTENTION_BUDGET_ELEMENTS):
    """``softmax(query key^T) value`` over the key axis, chunked over queries when large.

    query (B, M, D), key (B, K, D), value (B, K, Dv) -> (B, M, Dv). Each output row only depends
    on its own query, so processing rows in chunks is exact; with ``max_elements`` set, at most
    about ``max_elements`` logits (B x chunk x K) are alive at a time, in the forward and in the
    backward pass. The chunk count may be dynamic (TensorFlow graphs of any shape) or static
    (JAX, PyTorch); the chunks run in turn.
    """
    if not max_elements:
        return ops.matmul(attention_weights(query, key), value)
    batch, num_q, num_k = ops.shape(query)[0], ops.shape(query)[1], ops.shape(key)[1]
    chunk = _imax(1, int(max_elements) // _imax(1, batch * num_k))
    chunk = _imin(chunk, _imax(num_q, 1))
    return _chunked_attention(query, key, value, chunk)


@keras.saving.register_keras_serializable(package="vsr_latent")
class LongAttention(keras.layers.Layer):
    """Long attention block (paper §4.2 eqs. 9-11, Fig. 3), optionally variational (§4.3, Fig. 5).

    Queries come from the clip ``x`` (B, L, H, W, C); keys and values from ``key_values``
    (B, N, H, W, C), by default ``x`` itself, or external key frames of the same video (N may
    differ from L). Steps:

    1. ``u = LeakyReLU(Conv3D_k3(.))`` then max pooling k2 s2 in space (same weights for the
       query and key/value frames);
    2. ``theta``, ``phi``, ``g``: linear 1x1 maps to ``C' = inner_filters`` channels; ``phi(u)``
       and ``g(u)`` are max-pooled k2 s2 once more (block-sparse: correlation between blocks);
    3. ``a = softmax(theta phi^T) g`` over all N*H/4*W/4 key positions for each of the
       L*H/2*W/2 query positions (no 1/sqrt(d) scaling, as in eq. 10), computed in query
       chunks above ``max_attention_elements`` (exact);
    4. variational: ``z = mu(a) (+ eps sigma(a))`` (``VariationalHead``); otherwise ``z = a``;
    5. a linear transposed convolution k4 s2 restores the resolution: ``out = x + T(z)``.

    With every parameter zero ``T(z) = 0`` and the block is the identity (plug and play,
    eqs. 16-17), in both variational modes. Frames are zero-padded to a multiple of 4 inside and
    cropped back, so any H, W work.

    ``key_values`` may be a tensor or a list of tensors (segments concatenated along time after
    the 3-D convolution, so the convolution never mixes frames of different segments).

    Args:
        filters: channels of the input and output.
        inner_filters: embedding channels C' (default filters // 2).
        variational: add the mean/variance heads (``call(..., sampling=True)`` draws from them).
        max_attention_elements: chunking budget (``ATTENTION_BUDGET_ELEMENTS``); None/0: off.
        leaky_slope: LeakyReLU slope.
    """

    def __init__(self, filters, inner_filters=None, variational=False,
                 max_attention_elements=ATTENTION_BUDGET_ELEMENTS, leaky_slope=LEAKY_SLOPE,
                 **kwargs):
        # Files saved before the mode became a call argument carry ``sampling`` in the config.
        kwargs.pop("sampling", None)
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.inner_filters = int(inner_filters) if inner_filters else max(1, self.filters // 2)
        self.variational = bool(variational)
        self.max_attention_elements = (
            int(max_attention_elements) if max_attention_elements else None)
        self.leaky_slope = float(leaky_slope)

    def build(self, input_shape):
        c, ci = self.filters, self.inner_filters
        dtype = self.dtype_policy
        self.embed_conv = keras.layers.Conv3D(c, 3, padding="same", name="embed_conv", dtype=dtype)
        self.embed_conv.build((None, None, None, None, c))
        self.theta = keras.layers.Dense(ci, name="theta", dtype=dtype)
        self.phi = keras.layers.Dense(ci, name="phi", dtype=dtype)
        self.g = keras.layers.Dense(ci, name="g", dtype=dtype)
        for layer in (self.theta, self.phi, self.g):
            layer.build((None, None, None, None, c))
        if self.variational:
            self.head = VariationalHead(ci, name="head", dtype=dtype)
            self.head.build((None, None, None, None, ci))
        self.restore = keras.layers.Conv2DTranspose(c, 4, strides=2, padding="same", name="restore",
                                                    dtype=dtype)
        self.restore.build((None, None, None, ci))
        self.built = True

    def _embed(self, x):
        return pool_spatial(ops.leaky_relu(self.embed_conv(x), negative_slope=self.leaky_slope))

    def call(self, inputs, key_values=None, training=None, sampling=False, return_attention=False,
             return_weights=False):
        """``out``, or ``(out, info)`` with ``return_attention`` or ``return_weights``.

        ``sampling``: a variational block's mode (False: z = mu; True: z = mu + eps sigma).
        ``info["z"]``: the latent attention (B, L, ceil(H/2), ceil(W/2), C'); ``info["variance"]``:
        sigma**2 of a variational block. ``return_weights`` adds ``info["weights"]``, the block's
        softmax(theta phi^T) as (B, L, Hq, Wq, N, Hk, Wk) over the padded query grid (H/2, W/2)
        and key grid (H/4, W/4): the whole matrix at once, not chunked, so for small inputs only.
        """
        x = inputs
        batch, frames, height, width = ops.shape(x)[:4]
        u_q = self._embed(pad_spatial(x))
        if key_values is None:
            segments = [x]
        elif isinstance(key_values, (list, tuple)):
            segments = list(key_values)
        else:
            segments = [key_values]
        u_kv = ops.concatenate(
            [u_q if s is x else self._embed(pad_spatial(s)) for s in segments], axis=1)

        theta = self.theta(u_q)
        phi = pool_spatial(self.phi(u_kv))
        g = pool_spatial(self.g(u_kv))
        q_shape = ops.shape(theta)
        ci = self.inner_filters
        query, key = ops.reshape(theta, (batch, -1, ci)), ops.reshape(phi, (batch, -1, ci))
        a = softmax_attention(query, key, ops.reshape(g, (batch, -1, ci)),
                              self.max_attention_elements)
        a = ops.reshape(a, q_shape)

        if self.variational:
            z, _, sigma = self.head(a, sampling=sampling)
        else:
            z, sigma = a, None
        y = unfold_time(self.restore(fold_time(z)), batch, frames)
        out = x + crop_spatial(y, height, width)
        if return_attention or return_weights:
            # Latent maps live at half resolution; crop away what covers only padding.
            zh, zw = (height + 1) // 2, (width + 1) // 2
            info = {"z": crop_spatial(z, zh, zw)}
            if sigma is not None:
                info["variance"] = crop_spatial(ops.square(sigma), zh, zw)
            if return_weights:
                grids = (batch,) + tuple(q_shape[1:4]) + tuple(ops.shape(phi)[1:4])
                info["weights"] = ops.reshape(attention_weights(query, key), grids)
            return out, info
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, inner_filters=self.inner_filters,
            variational=self.variational, max_attention_elements=self.max_attention_elements,
            leaky_slope=self.leaky_slope)
        return config
