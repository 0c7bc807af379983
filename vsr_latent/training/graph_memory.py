"""Many models in one process, flat memory: releasing what TensorFlow keeps of finished graphs.

``tf.custom_gradient`` (the long attention's chunked backward pass, `vsr_latent.layers.
long_attention`, under the TensorFlow backend) registers a gradient function under a new name
(``CustomGradient-<uid>``) in TensorFlow's process-wide gradient registry every time a graph
traces it, and never removes it. The function's closure holds tensors of the traced graph, so
every training step, validation and scoring function ever traced stays alive with its whole
FuncGraph: measured with the tests' tiny ``table1_latn10``, about 32 MiB more resident memory
after each model trained in one process (six models: 801 -> 960 MiB), which is what made the HD
rehearsal's process grow from table to table (``docs/full_scale.md``).

:func:`released_custom_gradients` removes the registrations made inside it once its work is over
(then collects garbage and trims the heap),
when no graph that used them is run again (a trained model is saved and its step functions are
dropped; a later call traces its own graphs and registers anew). It reaches into a private
attribute of TensorFlow's registry: if TensorFlow changes it, nothing is released and nothing
breaks.
"""

import contextlib
import ctypes
import gc

from tensorflow.python.framework import ops

CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


def _registry():
    try:
        table = ops._gradient_registry._registry  # noqa: SLF001 - see the module docstring
    except AttributeError:
        return None
    return table if isinstance(table, dict) else None


def custom_gradient_names():
    """The custom-gradient registrations TensorFlow holds now (empty if it cannot be read)."""
    table = _registry()
    return set() if table is None else {k for k in table if k.startswith(CUSTOM_GRADIENT_PREFIX)}


@contextlib.contextmanager
def released_custom_gradients():
    """Removes, on exit, the custom-gradient registrations made inside the block."""
    before = custom_gradient_names()
    try:
        yield
    finally:
        table = _registry()
        if table is not None:
            for name in custom_gradient_names() - before:
                table.pop(name, None)
        # Free the released graphs now and hand the heap's free pages back (glibc), so that the
        # next model starts from the same footprint rather than from a fragmented heap.
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
