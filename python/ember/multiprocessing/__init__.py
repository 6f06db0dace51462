"""``ember.multiprocessing``: Python's multiprocessing, with tensors that
travel through shared memory (torch.multiprocessing's API).

Everything of the standard ``multiprocessing`` module is here (Process,
Queue, Pipe, Pool, get_context, set_start_method, ...); importing this
module registers reductions with multiprocessing's ForkingPickler, so that a
CPU tensor put on a queue or pipe, or passed to a new process, is moved into
shared memory and sent as a file descriptor, never copied
(``ember.multiprocessing.reductions``). ``spawn(fn, args, nprocs)`` starts
``nprocs`` processes running ``fn(i, *args)`` and reports the first failure.

All three start methods work: 'fork' (the Linux default; ember's thread
pool starts afresh in the child, and the child compiles and runs programs
as the parent does), 'spawn' and 'forkserver'.
"""

import multiprocessing
import sys
from multiprocessing import *  # noqa: F401,F403

from .reductions import init_reductions
from .spawn import (ProcessContext, ProcessExitedException,  # noqa: F401
                    ProcessRaisedException, spawn, start_processes)

__all__ = ["set_sharing_strategy", "get_sharing_strategy",
           "get_all_sharing_strategies", "spawn", "start_processes",
           "ProcessContext", "ProcessRaisedException", "ProcessExitedException"]
__all__ += multiprocessing.__all__

if sys.platform != "linux":
    raise ImportError("ember.multiprocessing shares tensors through memfd "
                      "descriptors, which only Linux has")

# torch also offers 'file_system' (named files in /dev/shm with a manager
# process that removes them): not needed while every storage is one
# descriptor, which is freed with the last process that holds it.
_sharing_strategy = "file_descriptor"
_all_sharing_strategies = {"file_descriptor"}


def set_sharing_strategy(new_strategy):
    """Sets the strategy for sharing CPU tensors; one of
    ``get_all_sharing_strategies()``."""
    global _sharing_strategy
    if new_strategy not in _all_sharing_strategies:
        raise ValueError(
            f"sharing strategy {new_strategy!r} is not supported; ember has "
            f"{sorted(_all_sharing_strategies)}")
    _sharing_strategy = new_strategy


def get_sharing_strategy():
    """The current strategy for sharing CPU tensors."""
    return _sharing_strategy


def get_all_sharing_strategies():
    """The set of sharing strategies this system supports."""
    return set(_all_sharing_strategies)


init_reductions()
