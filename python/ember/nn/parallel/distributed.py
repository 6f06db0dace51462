"""``DistributedDataParallel``: torch's data-parallel wrapper on Ember's
lazy autograd.

At wrap, rank 0's parameters and buffers are broadcast to every rank (the
shapes are checked first, naming the ranks that differ). Each forward in
grad mode marks the wrapper pending; the ``backward()`` that follows
(``Tensor.backward`` is wrapped while a wrapper is pending) then averages
the gradients over the process group in buckets of ``bucket_cap_mb``
(the last parameters first, as torch buckets them): each bucket's
gradients are flattened into one tensor, scaled by 1 / world size,
all-reduced with ``async_op=True`` and written back as views of the
bucket.

Ember's ``backward()`` only records the gradient nodes; it computes
nothing. So the buckets' flatten, all_reduce and scale are recorded into
the same lazy graph: where the engine runs all_reduce as a graph op, the
backward, the reductions and the optimizer step that reads the
gradients compile into one program per rank, and the program's schedule
starts a bucket's reduction as soon as its gradients exist (the overlap
torch gets from its autograd hooks). An engine that runs all_reduce
eagerly computes its input at issue: every bucket is recorded before the
first is issued, so that the backward and all the buckets are one program
(a sync computes every pending value); the reductions then run in order on
the group's thread, and the optimizer step is a second program.

``no_sync()`` skips the reduction: gradients accumulate locally and the
first synchronized backward after it averages the sum.
``find_unused_parameters=True`` detects the parameters a backward did not
reach; their slots in the buckets are zeros, and a parameter no rank used
keeps its gradient as it was (``None`` stays ``None``), as torch does.
Without it, a parameter that gets no gradient makes the next forward
raise torch's error.
"""

import contextlib
import weakref

import ember
from ember._ember import Tensor
from ember._grad_mode import no_grad
from ember.nn.module import Module
from ember.nn.parallel import _buckets

# torch's DDP broadcasts module states in buckets of this size.
_BROADCAST_BUCKET_BYTES = 250 * 1024 * 1024

_pending = weakref.WeakSet()   # wrappers whose forward awaits a backward
_depth = [0]                   # Tensor.backward calls in progress


def _dist():
    import ember.distributed as dist
    return dist


def _flatten(tensors):
    if len(tensors) == 1:
        return tensors[0].reshape(-1).clone()
    return ember.cat([t.reshape(-1) for t in tensors])


def _unflatten(flat, like):
    views, offset = [], 0
    for t in like:
        n = t.numel()
        views.append(flat[offset:offset + n].view(tuple(t.shape)))
        offset += n
    return views


def _coalesced_buckets(tensors, cap_bytes):
    """Consecutive runs of one dtype of at most ``cap_bytes`` (one tensor
    may exceed it alone)."""
    buckets, current, size = [], [], 0
    for t in tensors:
        nbytes = t.numel() * t.element_size()
        if current and (t.dtype != current[0].dtype or size + nbytes > cap_bytes):
            buckets.append(current)
            current, size = [], 0
        current.append(t)
        size += nbytes
    if current:
        buckets.append(current)
    return buckets


def _install_backward():
    """Wraps ``Tensor.backward`` so that pending wrappers reduce after it.
    Done at every pending forward: another wrapper of ``backward`` (module
    backward hooks) may have restored the one it found."""
    current = Tensor.backward
    if getattr(current, "_ddp_reduces", False):
        return

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        if _depth[0]:
            # Inside the outermost backward (module backward hooks replay
            # through Tensor.backward): that one reduces, after the replay.
            return current(self, gradient, retain_graph, create_graph)
        wrappers = [w for w in list(_pending) if w._expect_backward]
        saved = [w._detach_grads_for_usage() for w in wrappers]
        _depth[0] += 1
        try:
            current(self, gradient, retain_graph, create_graph)
        except BaseException:
            for wrapper, grads in zip(wrappers, saved):
                wrapper._restore_grads(grads)
            raise
        finally:
            _depth[0] -= 1
        for wrapper, grads in zip(wrappers, saved):
            wrapper._reduce_after_backward(grads)
        if not _pending and Tensor.backward is backward:
            Tensor.backward = current

    backward._ddp_reduces = True
    backward.__doc__ = current.__doc__
    Tensor.backward = backward


class DistributedDataParallel(Module):
    """Data parallelism over the ranks of ``process_group`` (the default
    group when None): one model replica per process, gradients averaged in
    the backward. ``device_ids``, ``output_device``, ``gradient_as_bucket_view``
    and ``static_graph`` are accepted for torch's signature: Ember's replica
    lives where its parameters live, and gradients are always views of
    their bucket after a reduction."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=25,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        dist = _dist()
        if not dist.is_initialized():
            raise RuntimeError(
                "Default process group has not been initialized, please make sure to "
                "call init_process_group.")
        parameters = [p for _, p in module.named_parameters() if p.requires_grad]
        if not parameters:
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any "
                "parameter that requires a gradient.")
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.process_group = process_group
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int(bucket_cap_mb * 1024 * 1024)
        # Plain attributes (not registered): the module owns the tensors.
        object.__setattr__(self, "_ddp_params", parameters)
        object.__setattr__(self, "_bucket_indices",
                           _buckets.ddp_buckets(parameters, bucket_cap_mb))
        object.__setattr__(self, "_expect_backward", False)
        object.__setattr__(self, "_unfinished", None)
        self._world_size = dist.get_world_size(process_group)
        self._verify_shapes_across_ranks()
        self._sync_module_states()

    # Wrap-time synchronization --------------------------------------------

    def _group_kwargs(self):
        return {} if self.process_group is None else {"group": self.process_group}

    def _states(self):
        return ([p for p in self.module.parameters()]
                + [b for b in self.module.buffers()])

    def _verify_shapes_across_ranks(self):
        """torch's _verify_param_shape_across_processes: every rank holds
        the same parameter count and shapes, or all raise naming the ranks."""
        if self._world_size == 1:
            return
        dist = _dist()
        signature = [len(self._ddp_params)]
        for p in self._ddp_params:
            signature += [p.dim(), *p.shape]
        # Fixed-width so that all_gather's sizes agree: count, length, hash.
        digest = [len(signature), sum(signature), hash(tuple(signature)) & 0x7FFFFFFF]
        mine = ember.tensor(digest, dtype=ember.int64)
        gathered = [ember.zeros(3, dtype=ember.int64) for _ in range(self._world_size)]
        dist.all_gather(gathered, mine, **self._group_kwargs())
        digests = [g.tolist() for g in gathered]
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        if differ:
            raise RuntimeError(
                f"DistributedDataParallel: ranks {differ} hold parameters whose count "
                f"or shapes differ from rank 0's (this rank, "
                f"{dist.get_rank(self.process_group)}, has "
                f"{[tuple(p.shape) for p in self._ddp_params]})")

    def _broadcast(self, tensors, cap_bytes):
        """Copies the group's first rank's values into ``tensors`` in place."""
        dist = _dist()
        src = 0
        if self.process_group is not None and hasattr(dist, "get_global_rank"):
            src = dist.get_global_rank(self.process_group, 0)
        with no_grad():
            for bucket in _coalesced_buckets(tensors, cap_bytes):
                flat = _flatten([t.detach() for t in bucket])
                dist.broadcast(flat, src, **self._group_kwargs())
                for t, v in zip(bucket, _unflatten(flat, bucket)):
                    t.copy_(v)

    def _sync_module_states(self):
        if self._world_size > 1:
            self._broadcast(self._states(), _BROADCAST_BUCKET_BYTES)

    # Forward ----------------------------------------------------------------

    def forward(self, *inputs, **kwargs):
        if self._unfinished is not None:
            message, self._unfinished = self._unfinished, None
            raise RuntimeError(message)
        if self.broadcast_buffers and self.require_forward_param_sync \
                and self._world_size > 1:
            buffers = list(self.module.buffers())
            if buffers:
                self._broadcast(buffers, self.bucket_bytes_cap)
        output = self.module(*inputs, **kwargs)
        if ember.is_grad_enabled() and self.require_backward_grad_sync:
            object.__setattr__(self, "_expect_backward", True)
            _pending.add(self)
            _install_backward()
        else:
            object.__setattr__(self, "_expect_backward", False)
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Within the context, backward passes accumulate gradients
        locally; the first synchronized backward after it averages them."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # Reduction --------------------------------------------------------------

    def _detach_grads_for_usage(self):
        """With find_unused_parameters, the gradients before the backward,
        set aside (None in their place) so that afterwards a parameter
        with a gradient is one this backward reached."""
        if not self.find_unused_parameters:
            return None
        saved = []
        for p in self._ddp_params:
            saved.append(p.grad)
            p.grad = None
        return saved

    def _restore_grads(self, saved):
        """A backward that raised: the gradients set aside come back."""
        if saved is not None:
            for p, old in zip(self._ddp_params, saved):
                p.grad = old

    def _reduce_after_backward(self, saved):
        object.__setattr__(self, "_expect_backward", False)
        _pending.discard(self)
        params = self._ddp_params
        if saved is not None:
            used = [p.grad is not None for p in params]
            for p, old in zip(params, saved):
                if old is not None:
                    p.grad = old if p.grad is None else old + p.grad
        else:
            used = [p.grad is not None for p in params]
            if not all(used):
                names = {id(p): n for n, p in self.module.named_parameters()}
                missing = [names.get(id(p), "?") for p, u in zip(params, used) if not u]
                object.__setattr__(self, "_unfinished", (
                    "Expected to have finished reduction in the prior iteration before "
                    "starting a new one. This error indicates that your module has "
                    "parameters that were not used in producing loss. You can enable "
                    "unused parameter detection by passing the keyword argument "
                    "`find_unused_parameters=True` to "
                    "`torch.nn.parallel.DistributedDataParallel`. Parameters that did "
                    f"not receive grad: {', '.join(missing)}"))
                return
        self._reduce(used)

    def _reduce(self, used):
        if self._world_size == 1:
            return
        dist = _dist()
        kwargs = self._group_kwargs()
        params = self._ddp_params
        globally_used = used
        if self.find_unused_parameters:
            counts = ember.tensor([1 if u else 0 for u in used], dtype=ember.int32)
            dist.all_reduce(counts, **kwargs)
            globally_used = [c > 0 for c in counts.tolist()]
        scale = 1.0 / self._world_size
        flats = []
        with no_grad():
            # Every bucket is recorded before the first is issued: an engine
            # that computes its input at issue then computes the backward
            # and all the buckets in one program (a sync computes every
            # pending value), and the later issues find theirs computed.
            for indices in self._bucket_indices:
                members = [i for i in indices if globally_used[i]]
                if not members:
                    continue
                grads = [params[i].grad if params[i].grad is not None
                         else ember.zeros_like(params[i]) for i in members]
                flat = _flatten(grads)
                flat.mul_(scale)
                flats.append((members, flat))
            works = [dist.all_reduce(flat, async_op=True, **kwargs) for _, flat in flats]
            for (members, flat), work in zip(flats, works):
                if work is not None:   # torch returns None for a group without this rank
                    work.wait()
                like = [params[i] for i in members]
                for i, view in zip(members, _unflatten(flat, like)):
                    params[i].grad = view
