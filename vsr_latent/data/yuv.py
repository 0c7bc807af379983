"""Raw YUV 4:2:0 (planar I420) <-> RGB with BT.709 limited-range coefficients.

How SJTU 4K ships its sequences: raw planar 4:2:0 files, 8-bit or 10-bit (10-bit samples in
16-bit little-endian words), 3840x2160, no header — the user gives size and bit depth.

Conversion (ITU-R BT.709, "limited"/studio range): with n = bit depth, luma and chroma are first
brought to 8-bit scale by dividing by 2^(n-8); then, with Kr = 0.2126, Kb = 0.0722,

    R = 255/219 (Y - 16)                                  + 255/224 * 2 (1 - Kr)  (Cr - 128)
    G = 255/219 (Y - 16) - 255/224 * 2 (1 - Kb) Kb / Kg (Cb - 128)
                         - 255/224 * 2 (1 - Kr) Kr / Kg (Cr - 128)
    B = 255/219 (Y - 16) + 255/224 * 2 (1 - Kb) (Cb - 128)

i.e. R = 1.16438 (Y-16) + 1.79274 (Cr-128), G = 1.16438 (Y-16) - 0.21325 (Cb-128) - 0.53291
(Cr-128), B = 1.16438 (Y-16) + 2.11240 (Cb-128); rounded and clipped to [0, 255]. Chroma is
upsampled by repeating each sample 2x2 (nearest), which is exact for flat colours and what most
raw readers do.
"""

import numpy as np

KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB


def frame_bytes(size, bit_depth):
    h, w = size
    bps = 1 if bit_depth == 8 else 2
    return (h * w + 2 * (h // 2) * (w // 2)) * bps


def yuv420_to_rgb(buf, size, bit_depth=8):
    """One frame of planar 4:2:0 bytes -> uint8 (H, W, 3) RGB (BT.709 limited range)."""
    h, w = size
    dtype = np.uint8 if bit_depth == 8 else np.dtype("<u2")
    a = np.frombuffer(buf, dtype=dtype).astype(np.float32)
    if bit_depth != 8:
        a = a / float(1 << (bit_depth - 8))
    ny, nc = h * w, (h // 2) * (w // 2)
    y = a[:ny].reshape(h, w) - 16.0
    cb = a[ny : ny + nc].reshape(h // 2, w // 2) - 128.0
    cr = a[ny + nc : ny + 2 * nc].reshape(h // 2, w // 2) - 128.0
    cb = np.repeat(np.repeat(cb, 2, axis=0), 2, axis=1)
    cr = np.repeat(np.repeat(cr, 2, axis=0), 2, axis=1)
    ys = 255.0 / 219.0
    cs = 255.0 / 224.0
    r = ys * y + cs * 2 * (1 - KR) * cr
    g = ys * y - cs * 2 * (1 - KB) * KB / KG * cb - cs * 2 * (1 - KR) * KR / KG * cr
    b = ys * y + cs * 2 * (1 - KB) * cb
    rgb = np.stack([r, g, b], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def rgb_to_yuv420(rgb, bit_depth=8):
    """uint8 (H, W, 3) RGB -> planar 4:2:0 bytes (BT.709 limited; chroma averaged over 2x2)."""
    x = np.asarray(rgb, dtype=np.float64) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = KR * r + KG * g + KB * b
    cb = (b - y) / (2 * (1 - KB))
    cr = (r - y) / (2 * (1 - KR))
    h, w = y.shape

    def sub(c):
        return c[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    mul = float(1 << (bit_depth - 8))
    planes = [(16 + 219 * y) * mul, (128 + 224 * sub(cb)) * mul, (128 + 224 * sub(cr)) * mul]
    dtype = np.uint8 if bit_depth == 8 else np.dtype("<u2")
    top = (1 << bit_depth) - 1
    return b"".join(np.clip(np.round(p), 0, top).astype(dtype).tobytes() for p in planes)
