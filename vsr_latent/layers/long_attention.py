"""Long (block-sparse non-local) attention over every key frame: exact and memory-bounded."""

import keras
import tensorflow as tf

from vsr_latent.layers._shapes import (
    crop_spatial,
    fold_time,
    pad_spatial,
    pool_spatial,
    unfold_time,
)
from vsr_latent.layers.residual import LEAKY_SLOPE
from vsr_latent.layers.variational import VariationalHead, VariationalModeMixin

# Largest attention matrix (batch x queries x keys, float elements) computed at once; above it the
# queries are processed in chunks (2**24 floats = 64 MiB). None or 0 turns chunking off.
ATTENTION_BUDGET_ELEMENTS = 2**24


def _split_queries(x, chunk):
    """(B, M, D) -> (num_chunks, B, chunk, D), zero rows appended to fill the last chunk."""
    batch, num = tf.shape(x)[0], tf.shape(x)[1]
    num_chunks = (num + chunk - 1) // chunk
    padded = tf.pad(x, [[0, 0], [0, num_chunks * chunk - num], [0, 0]])
    return tf.transpose(tf.reshape(padded, [batch, num_chunks, chunk, tf.shape(x)[2]]), [1, 0, 2, 3])


def _join_queries(chunks, num):
    """Inverse of ``_split_queries``: (num_chunks, B, chunk, D) -> (B, num, D)."""
    shape = tf.shape(chunks)
    joined = tf.reshape(tf.transpose(chunks, [1, 0, 2, 3]),
                        [shape[1], shape[0] * shape[2], shape[3]])
    return joined[:, :num]


def _chunked_attention(query, key, value, chunk):
    """Exact attention over query chunks, with a backward pass that is chunked too.

    The gradient recomputes each chunk's softmax instead of keeping all of them (which together
    are the full attention matrix), so training memory is bounded like inference memory.
    """
    num_q = tf.shape(query)[1]
    depth_v = value.shape[-1]

    @tf.custom_gradient
    def attend(query, key, value):
        out = tf.map_fn(
            lambda q: tf.matmul(attention_weights(q, key), value), _split_queries(query, chunk),
            parallel_iterations=1,
            fn_output_signature=tf.TensorSpec([None, None, depth_v], query.dtype))

        def grad(d_out):
            q_chunks = _split_queries(query, chunk)
            d_chunks = _split_queries(d_out, chunk)  # zero rows for padding: no contribution
            num_chunks = tf.shape(q_chunks)[0]

            def body(i, d_key, d_value, d_query):
                q, d = q_chunks[i], d_chunks[i]
                p = attention_weights(q, key)
                d_value += tf.matmul(p, d, transpose_a=True)
                dp = tf.matmul(d, value, transpose_b=True)
                ds = p * (dp - tf.reduce_sum(dp * p, axis=-1, keepdims=True))
                d_key += tf.matmul(ds, q, transpose_a=True)
                return i + 1, d_key, d_value, d_query.write(i, tf.matmul(ds, key))

            _, d_key, d_value, d_query = tf.while_loop(
                lambda i, *_: i < num_chunks, body,
                (tf.constant(0), tf.zeros_like(key), tf.zeros_like(value),
                 tf.TensorArray(query.dtype, size=num_chunks, infer_shape=False)),
                parallel_iterations=1)
            d_query = tf.ensure_shape(_join_queries(d_query.stack(), num_q), query.shape)
            return d_query, d_key, d_value

        out = _join_queries(out, num_q)
        out.set_shape(query.shape[:-1].concatenate(value.shape[-1:]))
        return out, grad

    return attend(query, key, value)


def attention_weights(query, key):
    """``softmax(query key^T)`` over the key axis (eq. 10, no 1/sqrt(d) scaling): query
    (B, M, D), key (B, K, D) -> (B, M, K)."""
    return tf.nn.softmax(tf.matmul(query, key, transpose_b=True), axis=-1)


def softmax_attention(query, key, value, max_elements=ATTENTION_BUDGET_ELEMENTS):
    """``softmax(query key^T) value`` over the key axis, chunked over queries when large.

    query (B, M, D), key (B, K, D), value (B, K, Dv) -> (B, M, Dv). Each output row only depends
    on its own query, so processing rows in chunks is exact; with ``max_elements`` set, at most
    about ``max_elements`` logits (B x chunk x K) are alive at a time, in the forward and in the
    backward pass. The chunk count is dynamic (graph mode, any shapes): a ``tf.map_fn`` /
    ``tf.while_loop`` with ``parallel_iterations=1`` runs the chunks in turn.
    """
    if not max_elements:
        return tf.matmul(attention_weights(query, key), value)
    batch, num_q, num_k = tf.shape(query)[0], tf.shape(query)[1], tf.shape(key)[1]
    chunk = tf.maximum(1, int(max_elements) // tf.maximum(1, batch * num_k))
    chunk = tf.minimum(chunk, tf.maximum(num_q, 1))
    return _chunked_attention(query, key, value, chunk)


@keras.saving.register_keras_serializable(package="vsr_latent")
class LongAttention(VariationalModeMixin, keras.layers.Layer):
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
        variational: add the mean/variance heads.
        sampling: initial variational mode.
        max_attention_elements: chunking budget (``ATTENTION_BUDGET_ELEMENTS``); None/0: off.
        leaky_slope: LeakyReLU slope.
    """

    def __init__(self, filters, inner_filters=None, variational=False, sampling=False,
                 max_attention_elements=ATTENTION_BUDGET_ELEMENTS, leaky_slope=LEAKY_SLOPE,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.inner_filters = int(inner_filters) if inner_filters else max(1, self.filters // 2)
        self.variational = bool(variational)
        self._sampling = bool(sampling)
        self.max_attention_elements = (
            int(max_attention_elements) if max_attention_elements else None)
        self.leaky_slope = float(leaky_slope)

    def build(self, input_shape):
        c, ci = self.filters, self.inner_filters
        self.embed_conv = keras.layers.Conv3D(c, 3, padding="same", name="embed_conv")
        self.embed_conv.build((None, None, None, None, c))
        self.theta = keras.layers.Dense(ci, name="theta")
        self.phi = keras.layers.Dense(ci, name="phi")
        self.g = keras.layers.Dense(ci, name="g")
        for layer in (self.theta, self.phi, self.g):
            layer.build((None, None, None, None, c))
        if self.variational:
            self.head = VariationalHead(ci, sampling=self.sampling, name="head")
            self.head.build((None, None, None, None, ci))
        self.restore = keras.layers.Conv2DTranspose(c, 4, strides=2, padding="same", name="restore")
        self.restore.build((None, None, None, ci))
        self.built = True

    def _embed(self, x):
        return pool_spatial(tf.nn.leaky_relu(self.embed_conv(x), alpha=self.leaky_slope))

    def call(self, inputs, key_values=None, training=None, sampling=None, return_attention=False,
             return_weights=False):
        """``out``, or ``(out, info)`` with ``return_attention`` or ``return_weights``.

        ``info["z"]``: the latent attention (B, L, ceil(H/2), ceil(W/2), C'); ``info["variance"]``:
        sigma**2 of a variational block. ``return_weights`` adds ``info["weights"]``, the block's
        softmax(theta phi^T) as (B, L, Hq, Wq, N, Hk, Wk) over the padded query grid (H/2, W/2)
        and key grid (H/4, W/4): the whole matrix at once, not chunked, so for small inputs only.
        """
        x = inputs
        batch, frames = tf.shape(x)[0], tf.shape(x)[1]
        height, width = tf.shape(x)[2], tf.shape(x)[3]
        u_q = self._embed(pad_spatial(x))
        if key_values is None:
            segments = [x]
        elif isinstance(key_values, (list, tuple)):
            segments = list(key_values)
        else:
            segments = [key_values]
        u_kv = tf.concat(
            [u_q if s is x else self._embed(pad_spatial(s)) for s in segments], axis=1)

        theta = self.theta(u_q)
        phi = pool_spatial(self.phi(u_kv))
        g = pool_spatial(self.g(u_kv))
        q_shape = tf.shape(theta)
        ci = self.inner_filters
        query, key = tf.reshape(theta, [batch, -1, ci]), tf.reshape(phi, [batch, -1, ci])
        a = softmax_attention(query, key, tf.reshape(g, [batch, -1, ci]),
                              self.max_attention_elements)
        a = tf.reshape(a, q_shape)

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
                info["variance"] = crop_spatial(tf.square(sigma), zh, zw)
            if return_weights:
                grids = tf.concat([[batch], q_shape[1:4], tf.shape(phi)[1:4]], axis=0)
                info["weights"] = tf.reshape(attention_weights(query, key), grids)
            return out, info
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, inner_filters=self.inner_filters,
            variational=self.variational, sampling=self.sampling,
            max_attention_elements=self.max_attention_elements, leaky_slope=self.leaky_slope)
        return config
