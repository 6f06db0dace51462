"""ember.distributed's process groups and collectives (torch.distributed's
names and semantics) over the engines of ember._ember._distributed.

Tensors are lazy: a collective computes its input when it is issued and
writes its result into the tensors given (an in-place update, as torch's
do) when it finishes; with async_op=True, when the returned handle's
wait() returns.
"""

import enum
import pickle
from datetime import timedelta

import ember
from ember._ember import _distributed as _C
from ember.distributed import _graph, _rendezvous

default_pg_timeout = timedelta(minutes=30)


class ReduceOp(enum.IntEnum):
    """torch.distributed.ReduceOp's members every engine supports (the
    values are ember's engine codes)."""
    SUM = 0
    AVG = 1
    MIN = 2
    MAX = 3
    PRODUCT = 4

    def __repr__(self):
        return "<ReduceOp." + self.name + ": " + str(self.value) + ">"


class Backend(str):
    """A backend name, lower case: Backend("GLOO") == "gloo"."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    MPI = "mpi"
    NCCL = "nccl"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError("Backend name must be a string, but got: " + repr(name))
        value = name.lower()
        if value not in ("gloo", "mpi", "nccl", "undefined"):
            raise ValueError("Invalid backend: '" + name + "'")
        return str.__new__(cls, value)


class ProcessGroup:
    """A group of ranks and its engine. `ranks` are global rank numbers."""

    def __init__(self, pg, ranks, backend):
        self._pg = pg
        self._ranks = list(ranks)
        self._backend = Backend(backend)

    def rank(self):
        return self._pg.rank()

    def size(self):
        return self._pg.size()

    def name(self):
        return self._backend

    def __repr__(self):
        return ("<ember.distributed.ProcessGroup " + self._backend + " ranks=" +
                str(self._ranks) + ">")


class _Sentinel:
    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return self._name


class GroupMember:
    """torch's GroupMember: WORLD stands for the default group;
    NON_GROUP_MEMBER is what new_group returns to ranks outside the group."""
    WORLD = _Sentinel("group.WORLD")
    NON_GROUP_MEMBER = _Sentinel("GroupMember.NON_GROUP_MEMBER")


class group:
    WORLD = GroupMember.WORLD


class _State:
    world = None      # the default ProcessGroup
    groups = []       # new_group's groups (this rank is a member of)


class Work:
    """An issued collective: wait() blocks until it finished (raising its
    error), then the results are in the tensors."""

    def __init__(self, work, then=None):
        self._work = work
        self._then = then
        self._error = None

    def wait(self, timeout=None):
        if self._work is not None:
            try:
                self._work.wait()
            except Exception as error:
                self._error = error
                self._work = None
                raise
            self._work = None
            if self._then is not None:
                then, self._then = self._then, None
                then()
        elif self._error is not None:
            raise self._error
        return True

    def is_completed(self):
        return self._work is None or self._work.is_completed()

    def is_success(self):
        return self.is_completed() and self._error is None

    def exception(self):
        return self._error


def _finish(work, async_op, then=None):
    """The handle for async_op; else the call has finished (work is None)."""
    if async_op:
        return Work(work, then)
    if then is not None:
        then()
    return None


def _check_initialized():
    if _State.world is None:
        raise RuntimeError("Default process group has not been initialized, please make "
                           "sure to call init_process_group.")


def _resolve(group):
    """The ProcessGroup for `group`, or None when this rank is not in it."""
    _check_initialized()
    if group is None or group is GroupMember.WORLD:
        return _State.world
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError("group must be a ProcessGroup, got " + type(group).__name__)
    if group._pg is None:
        raise RuntimeError("the process group was destroyed")
    return group


def _group_rank(pg, global_rank, what):
    try:
        return pg._ranks.index(int(global_rank))
    except ValueError:
        raise ValueError("The global rank " + str(global_rank) + " (" + what +
                         ") is not part of the group " + repr(pg)) from None


def _check_tensor(value, name):
    if not isinstance(value, ember.Tensor):
        raise TypeError("Invalid function argument. Expected parameter `" + name +
                        "` of type ember.Tensor\n but got " + str(type(value)) + " instead.")


def _check_tensor_list(values, name):
    if not isinstance(values, (list, tuple)) or not all(
            isinstance(v, ember.Tensor) for v in values):
        raise TypeError("Invalid function argument. Expected parameter `" + name +
                        "` of type List[ember.Tensor]\n but got " + str(type(values)) +
                        " instead.")


#===- Setup ---------------------------------------------------------------===#

def is_available():
    return True


def is_initialized():
    return _State.world is not None


def is_gloo_available():
    return "gloo" in _C.available_backends()


def is_mpi_available():
    return "mpi" in _C.available_backends()


def is_nccl_available():
    return "nccl" in _C.available_backends()


def is_backend_available(backend):
    return Backend(backend) in _C.available_backends()


def _timeout_seconds(timeout):
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if not isinstance(timeout, timedelta):
        raise TypeError("Expected timeout argument to be of type datetime.timedelta")
    return timeout.total_seconds()


def _parse_backend(backend):
    if backend is None:
        return "gloo"
    if isinstance(backend, str) and ":" in backend:
        # "cpu:gloo,cuda:nccl": host tensors go through the cpu entry.
        pairs = dict(part.split(":", 1) for part in backend.split(","))
        backend = pairs.get("cpu", next(iter(pairs.values())))
    return Backend(backend)


def init_process_group(backend=None, init_method=None, timeout=default_pg_timeout,
                       world_size=-1, rank=-1, store=None, group_name="", pg_options=None):
    """Joins the default process group (torch.distributed.init_process_group)."""
    if _State.world is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    backend = _parse_backend(backend)
    seconds = _timeout_seconds(timeout)
    address = ""
    if backend == Backend.MPI and store is None and init_method is None:
        # MPI's launcher (mpirun) places the ranks: no store.
        pass
    elif store is None:
        store, rank, world_size, address = _rendezvous.rendezvous(
            init_method or "env://", rank, world_size, seconds)
    else:
        if init_method is not None:
            raise ValueError("Cannot specify both init_method and store.")
        if rank < 0 or world_size < 1:
            raise ValueError("rank and world_size must be given with store")
        if isinstance(store, _StoreBase):
            store = store._store
        address = _rendezvous.local_address(None)
    prefixed = None if store is None else _C.prefix_store("default_pg", store)
    pg = _C.new_group(backend, rank, world_size, prefixed, seconds, address)
    _State.world = ProcessGroup(pg, range(pg.size()), backend)
    _State.world._store = store
    _State.groups = []


def destroy_process_group(group=None):
    """Releases a group, or every group (the default one included)."""
    if group is None or group is GroupMember.WORLD:
        _check_initialized()
        for g in _State.groups + [_State.world]:
            if g._pg is not None:
                g._pg.shutdown()
                g._pg = None
        _State.world = None
        _State.groups = []
        return
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    if group._pg is not None:
        group._pg.shutdown()
        group._pg = None
    if group in _State.groups:
        _State.groups.remove(group)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None):
    """A group over `ranks` (global ranks; all when None). Every rank of the
    default group must call it, members or not."""
    world = _resolve(None)
    if ranks is None:
        ranks = list(range(world.size()))
    ranks = sorted(int(r) for r in ranks)
    for r in ranks:
        if r < 0 or r >= world.size():
            raise ValueError("new_group: rank " + str(r) + " is outside the world of " +
                             str(world.size()) + " ranks")
    if backend is not None and Backend(backend) != world._backend:
        raise ValueError("new_group: backend " + repr(backend) + " differs from the default "
                         "group's " + repr(world._backend) + " (one engine per job for now)")
    child = world._pg.split(ranks)
    if child is None:
        return GroupMember.NON_GROUP_MEMBER
    result = ProcessGroup(child, ranks, world._backend)
    _State.groups.append(result)
    return result


def get_rank(group=None):
    pg = _resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    pg = _resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    pg = _resolve(group)
    if pg is None:
        raise RuntimeError("Invalid process group specified")
    return pg._backend


def get_global_rank(group, group_rank):
    pg = _resolve(group)
    if pg is None:
        raise RuntimeError("this rank is not part of the group")
    return pg._ranks[group_rank]


def get_process_group_ranks(group):
    pg = _resolve(group)
    return list(pg._ranks)


#===- Collectives ------------------------------------------------------------===#

def barrier(group=None, async_op=False, device_ids=None):
    pg = _resolve(group)
    if pg is None:
        return None
    return _finish(pg._pg.barrier(async_op), async_op)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    # async_op=True on a pending CPU tensor (DDP's gradient buckets): one
    # ember.all_reduce op in its compiled program. Blocking calls run now,
    # so that their errors (a hung or dead peer) raise here.
    if async_op and _graph.try_all_reduce(tensor, int(ReduceOp(op)), pg._pg.group_id):
        return _graph.TracedWork()
    return _finish(pg._pg.all_reduce(tensor, int(ReduceOp(op)), async_op), async_op)


def broadcast(tensor, src, group=None, async_op=False):
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_rank(pg, src, "src")
    return _finish(pg._pg.broadcast(tensor, root, async_op), async_op)


def reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False):
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_rank(pg, dst, "dst")
    return _finish(pg._pg.reduce(tensor, int(ReduceOp(op)), root, async_op), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    return _finish(pg._pg.all_gather(output_tensor, input_tensor, async_op), async_op)


def _check_list_shapes(tensors, like, what, count):
    if len(tensors) != count:
        raise ValueError(what + ": the list has " + str(len(tensors)) +
                         " tensors for a group of " + str(count) + " ranks")
    for i, t in enumerate(tensors):
        if tuple(t.shape) != tuple(like.shape) or t.dtype != like.dtype:
            raise ValueError(what + ": list entry " + str(i) + " is " + str(t.dtype) +
                             str(list(t.shape)) + ", expected " + str(like.dtype) +
                             str(list(like.shape)))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    _check_tensor_list(tensor_list, "tensor_list")
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    _check_list_shapes(tensor_list, tensor, "all_gather", pg.size())
    gathered = ember.empty(pg.size(), *tensor.shape, dtype=tensor.dtype)
    work = pg._pg.all_gather(gathered, tensor, async_op)

    def then():
        for i, t in enumerate(tensor_list):
            t.copy_(gathered[i])
    return _finish(work, async_op, then)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _resolve(group)
    if pg is None:
        return None
    work = pg._pg.reduce_scatter(output, input, int(ReduceOp(op)), async_op)
    return _finish(work, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    _check_tensor(output, "output")
    _check_tensor_list(input_list, "input_list")
    pg = _resolve(group)
    if pg is None:
        return None
    _check_list_shapes(input_list, output, "reduce_scatter", pg.size())
    stacked = ember.stack(list(input_list))
    work = pg._pg.reduce_scatter(output, stacked, int(ReduceOp(op)), async_op)
    return _finish(work, async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_rank(pg, dst, "dst")
    gathered, then = None, None
    if pg.rank() == root:
        if gather_list is None:
            raise ValueError("gather: gather_list must be given on the destination rank")
        _check_tensor_list(gather_list, "gather_list")
        _check_list_shapes(gather_list, tensor, "gather", pg.size())
        gathered = ember.empty(pg.size(), *tensor.shape, dtype=tensor.dtype)

        def then():
            for i, t in enumerate(gather_list):
                t.copy_(gathered[i])
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination "
                         "ranks.")
    return _finish(pg._pg.gather(tensor, gathered, root, async_op), async_op, then)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_rank(pg, src, "src")
    stacked = None
    if pg.rank() == root:
        if scatter_list is None:
            raise ValueError("scatter: scatter_list must be given on the source rank")
        _check_tensor_list(scatter_list, "scatter_list")
        _check_list_shapes(scatter_list, tensor, "scatter", pg.size())
        stacked = ember.stack(list(scatter_list))
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    return _finish(pg._pg.scatter(tensor, stacked, root, async_op), async_op)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None,
                      group=None, async_op=False):
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _resolve(group)
    if pg is None:
        return None
    out_splits = [int(s) for s in (output_split_sizes or [])]
    in_splits = [int(s) for s in (input_split_sizes or [])]
    if bool(out_splits) != bool(in_splits):
        # One side given: the other is even, as rows over ranks.
        def even(t):
            rows = t.shape[0] if t.dim() else 0
            if rows % pg.size():
                raise ValueError("all_to_all_single: " + str(rows) + " rows do not split "
                                 "evenly over " + str(pg.size()) + " ranks")
            return [rows // pg.size()] * pg.size()
        out_splits = out_splits or even(output)
        in_splits = in_splits or even(input)
    work = pg._pg.all_to_all(output, input, out_splits, in_splits, async_op)
    return _finish(work, async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    _check_tensor_list(output_tensor_list, "output_tensor_list")
    _check_tensor_list(input_tensor_list, "input_tensor_list")
    pg = _resolve(group)
    if pg is None:
        return None
    flat_in = ember.cat([t.reshape(-1) for t in input_tensor_list])
    flat_out = ember.empty(sum(t.numel() for t in output_tensor_list),
                           dtype=output_tensor_list[0].dtype)
    work = pg._pg.all_to_all(flat_out, flat_in, [t.numel() for t in output_tensor_list],
                             [t.numel() for t in input_tensor_list], async_op)

    def then():
        offset = 0
        for t in output_tensor_list:
            t.copy_(flat_out[offset:offset + t.numel()].reshape(t.shape))
            offset += t.numel()
    return _finish(work, async_op, then)


def _peer(pg, rank, what):
    if rank is None:
        raise NotImplementedError(what + " from any source (src=None) is not supported: "
                                  "name the source rank")
    return _group_rank(pg, rank, what)


def isend(tensor, dst, group=None, tag=0):
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    return Work(pg._pg.send(tensor, _peer(pg, dst, "dst"), int(tag), True))


def irecv(tensor, src=None, group=None, tag=0):
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    return Work(pg._pg.recv(tensor, _peer(pg, src, "src"), int(tag), True))


def send(tensor, dst, group=None, tag=0):
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is not None:
        pg._pg.send(tensor, _peer(pg, dst, "dst"), int(tag), False)


def recv(tensor, src=None, group=None, tag=0):
    """Receives into `tensor`; returns the sender's rank (-1 outside the group)."""
    _check_tensor(tensor, "tensor")
    pg = _resolve(group)
    if pg is None:
        return -1
    pg._pg.recv(tensor, _peer(pg, src, "src"), int(tag), False)
    return int(src)


#===- Python objects ---------------------------------------------------------===#

def all_gather_object(object_list, obj, group=None):
    """Gathers a picklable object from every rank into object_list."""
    pg = _resolve(group)
    if pg is None:
        return None
    data = pickle.dumps(obj)
    size = ember.tensor([len(data)], dtype=ember.int64)
    sizes = [ember.zeros(1, dtype=ember.int64) for _ in range(pg.size())]
    all_gather(sizes, size, group)
    longest = max(int(s.item()) for s in sizes)
    padded = ember.tensor(list(data) + [0] * (longest - len(data)), dtype=ember.int32)
    gathered = [ember.zeros(longest, dtype=ember.int32) for _ in range(pg.size())]
    all_gather(gathered, padded, group)
    for i, (t, s) in enumerate(zip(gathered, sizes)):
        raw = bytes(int(v) for v in t.tolist()[:int(s.item())])
        object_list[i] = pickle.loads(raw)


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replaces object_list's entries on every rank by those of rank src."""
    pg = _resolve(group)
    if pg is None:
        return None
    is_src = get_rank() == src
    data = pickle.dumps(list(object_list)) if is_src else b""
    size = ember.tensor([len(data)], dtype=ember.int64)
    broadcast(size, src, group)
    payload = ember.tensor(list(data), dtype=ember.int32) if is_src else \
        ember.zeros(int(size.item()), dtype=ember.int32)
    broadcast(payload, src, group)
    if not is_src:
        values = pickle.loads(bytes(int(v) for v in payload.tolist()))
        object_list[:] = values


#===- Stores -------------------------------------------------------------------===#

class _StoreBase:
    """torch's Store: set/get/add/wait over bytes."""

    def __init__(self, store):
        self._store = store

    def set(self, key, value):
        if isinstance(value, str):
            value = value.encode()
        self._store.set(key, bytes(value))

    def get(self, key):
        return self._store.get(key)

    def add(self, key, amount):
        return self._store.add(key, int(amount))

    def wait(self, keys, timeout=None):
        self._store.wait(list(keys))


class TCPStore(_StoreBase):
    def __init__(self, host_name, port, world_size=None, is_master=False,
                 timeout=timedelta(seconds=300), wait_for_workers=True):
        super().__init__(_C.tcp_store(host_name, int(port), bool(is_master),
                                      _timeout_seconds(timeout)))

    @property
    def port(self):
        return self._store.port


class FileStore(_StoreBase):
    def __init__(self, file_name, world_size=-1, timeout=timedelta(seconds=300)):
        super().__init__(_C.file_store(file_name, _timeout_seconds(timeout)))


class PrefixStore(_StoreBase):
    def __init__(self, prefix, store):
        super().__init__(_C.prefix_store(prefix, store._store))
