"""ember.distributed: torch.distributed's process groups and collectives on
proven engines (Gloo over TCP; MPI and NCCL where built), with the TCP and
file rendezvous stores and a torchrun-like launcher
(python -m ember.distributed.run). See docs/distributed.md.
"""

from ember.distributed._api import (  # noqa: F401
    Backend, FileStore, GroupMember, PrefixStore, ProcessGroup, ReduceOp, TCPStore, Work,
    all_gather, all_gather_into_tensor, all_gather_object, all_reduce, all_to_all,
    all_to_all_single, barrier, broadcast, broadcast_object_list, default_pg_timeout,
    destroy_process_group, gather, get_backend, get_global_rank, get_process_group_ranks,
    get_rank, get_world_size, group, init_process_group, irecv, is_available,
    is_backend_available, is_gloo_available, is_initialized, is_mpi_available,
    is_nccl_available, isend, new_group, recv, reduce, reduce_scatter,
    reduce_scatter_tensor, scatter, send)

Store = FileStore.__mro__[1]
