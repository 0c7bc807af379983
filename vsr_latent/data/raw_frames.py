"""The crop-first clip format: all frames of a clip in one uncompressed, memory-mappable array.

A clip is ``clips/<clip_id>/frames.npy``: NumPy's ``.npy`` format (a short header, then the
frames as C-ordered uint8 of shape (T, H, W, 3)). A training sample then reads only the pixels of
its crop box: the file is memory-mapped and the box ``[start:start+L, top:top+h, left:left+w]``
copied out, so one sample of 7 x 144 x 144 costs about 0.25 ms at 1080p and at 4K (against about
350 ms for decoding seven whole 1080p PNG frames), and the process's memory does not grow with the
size of the root on disk: each read maps the file, copies the box and unmaps it.

Why this format (measured on the 2-core development machine, one 7 x 144 x 144 window of a
14-frame 1080p clip, one thread; ``docs/full_scale.md`` has the table): PNG frames 346 ms and 74 MB
on disk; zarr-python 3.4 with 128 x 128 chunks 15 ms; TensorStore zarr3 with lz4 chunks 1.6 ms
and 49 MB; this raw array 0.1-0.25 ms and 87 MB (H x W x 3 bytes a frame: 6.2 MB at 1080p,
24.9 MB at 4K, whatever the source's bit depth, since roots hold 8-bit RGB). It needs nothing
beyond NumPy (a format stable since 2008 that every array tool reads). The price is disk: 3.4x
the PNG frames of the same footage at 1080p, 3.6-4.8x at 4K (``docs/full_scale.md``).

``np.save`` pads the header to a multiple of 64 bytes, so the frames start aligned.
"""

import numpy as np

from vsr_latent.errors import InputError

#: The file of a raw clip, in its clip folder.
RAW_FRAMES = "frames.npy"


def layout(path):
    """(offset of the first pixel in bytes, (T, H, W, 3)) of a raw clip file, from its header."""
    try:
        with open(path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if major == 1
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
    except (OSError, ValueError) as e:
        raise InputError(path, f"not a raw clip file ({e})") from None
    if dtype != np.uint8 or fortran or len(shape) != 4 or shape[3] != 3:
        raise InputError(path, f"raw clip must be C-ordered uint8 (T, H, W, 3), got {dtype} "
                               f"{shape}{' Fortran order' if fortran else ''}")
    return offset, tuple(int(v) for v in shape)


def open_frames(path):
    """The clip's frames (T, H, W, 3) uint8, memory-mapped read-only (nothing read yet)."""
    return np.load(path, mmap_mode="r")


def iter_frames(path):
    """The clip's frames one at a time, each a copy (one frame in memory at a time)."""
    frames = open_frames(path)
    for t in range(frames.shape[0]):
        yield np.array(frames[t])


class RawClipWriter:
    """Writes a clip of a known number of frames into ``path``, frame by frame, with plain
    sequential writes (only the frame being written is in memory; a memory map would keep the
    clip's written pages in the process's resident set). ``close()`` checks the count and
    flushes; the file is complete only then (the caller writes it aside and renames it,
    ``vsr_latent.atomic``)."""

    def __init__(self, path, num_frames, size):
        h, w = size
        self.path = path
        self.num_frames = int(num_frames)
        self.frame_shape = (int(h), int(w), 3)
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close() / __exit__
        np.lib.format.write_array_header_1_0(self._file, {
            "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
            "shape": (self.num_frames, *self.frame_shape)})
        self._next = 0

    def write(self, frame):
        frame = np.asarray(frame)
        if frame.shape != self.frame_shape or frame.dtype != np.uint8:
            raise InputError(self.path, f"frame {self._next} is {frame.dtype} {frame.shape}, the "
                                        f"clip's frames are uint8 {self.frame_shape}")
        if self._next >= self.num_frames:
            raise InputError(self.path, f"more than the announced {self.num_frames} frames")
        self._file.write(np.ascontiguousarray(frame).tobytes())
        self._next += 1

    def close(self):
        if self._file is None:
            return
        f, self._file = self._file, None
        f.close()
        if self._next != self.num_frames:
            raise InputError(self.path, f"{self._next} of {self.num_frames} frames written")

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        if kind is None:
            self.close()
        elif self._file is not None:
            self._file.close()
            self._file = None


def read_boxes(path, start, tops, lefts, length, height, width):
    """The boxes ``[start:start+length, top:top+height, left:left+width]`` of a raw clip file,
    one per (top, left), stacked: (K, length, height, width, 3) uint8. The file is mapped for
    this call only: the process keeps the boxes, not the clip."""
    frames = open_frames(path)
    out = np.stack([frames[start:start + length, t:t + height, x:x + width]
                    for t, x in zip(tops, lefts)])
    del frames
    return out


def tf_read_boxes(paths, clip, start, tops, lefts, length, height, width):
    """TensorFlow op of :func:`read_boxes` (``tf.numpy_function``) on clip ``clip`` (a tensor
    index into the Python list ``paths`` of clip files); ``start``, ``tops`` and ``lefts`` (K,)
    tensors; (K, length, height, width, 3) uint8.

    A NumPy function, not TensorFlow's own ``ImmutableConst`` (which can map a file inside the
    graph): measured here, ``ImmutableConst`` brought twice the file's size into memory on its
    first run, so a root of N clips held N clips; the NumPy map touches only the box's pages
    and unmaps them. The price: it runs under Python's lock (about 0.25-0.9 ms a sample) and the
    tf.data service's remote workers cannot run it (`vsr_latent.training.trainer` refuses that
    combination by name).
    """
    import tensorflow as tf

    paths = [str(p) for p in paths]
    k = tops.shape[0]

    def read(clip_, start_, tops_, lefts_):
        return read_boxes(paths[int(clip_)], int(start_), tops_.tolist(), lefts_.tolist(),
                          length, height, width)

    boxes = tf.numpy_function(read, [clip, start, tops, lefts], tf.uint8, stateful=False)
    return tf.ensure_shape(boxes, [k, length, height, width, 3])
