"""A software prefetch for numba kernels: LLVM's ``llvm.prefetch`` on one array element.

numba exposes no prefetch of its own. The env kernel uses this to ask for the scattered cache
lines of a game it will draw a few games later (see ``physics._step_games``): at large batches
those lines sit in main memory, and a loop that waits for each miss in turn runs at half speed.
A prefetch is only a hint: it never faults and changes no value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _prefetch_write(typingctx: Any, array: Any, row: Any, col: Any) -> Any:
    """Typing and code of ``prefetch_write(array, row, col)`` (numba passes ``typingctx``)."""
    if not (isinstance(array, types.Array) and array.ndim == 2
            and isinstance(row, types.Integer) and isinstance(col, types.Integer)):
        return None
    sig = types.void(array, row, col)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        arr = context.make_array(array)(context, builder, args[0])
        index = [context.cast(builder, value, ty, types.intp)
                 for value, ty in zip(args[1:], signature.args[1:], strict=True)]
        pointer = cgutils.get_item_pointer(context, builder, array, arr, index,
                                           wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        # The name without its pointer-type suffix: LLVM upgrades it to the mangled name of its
        # version (p0i8 with typed pointers, p0 with opaque ones).
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch")
        # (address, 1 = for a write, 3 = keep in every cache level, 1 = data, not instructions)
        builder.call(function, [builder.bitcast(pointer, byte_pointer), ir.Constant(i32, 1),
                                ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


#: ``prefetch_write(array, row, col)``, inside a numba kernel: prefetch ``array[row, col]`` of a
#: 2-D array for writing, into every cache level.
prefetch_write = cast(Callable[[np.ndarray, int, int], None], intrinsic(_prefetch_write))
