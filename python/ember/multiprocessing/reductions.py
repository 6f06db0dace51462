"""How ``ember.multiprocessing`` pickles tensors: through shared memory.

A CPU tensor put on a Queue or Pipe (or passed to a Process) is moved into
shared memory first (``share_memory_()``, in place, as torch does) and is
sent as the descriptor of its storage's memory file plus its dtype, shape,
strides and storage offset: no element is copied. The receiver maps the same
pages, so writes on either side are seen by the other; a storage received
twice is one storage again. Leaves that require grad and Parameters arrive
as such; a non-leaf that requires grad is refused (as torch does).

The descriptor goes through multiprocessing's own fd passing
(``multiprocessing.reduction.DupFd``): to a child being started directly,
else through the sender's resource sharer, so (as in torch) the sender must
still be alive when the receiver takes the tensor off the queue.

Views whose layout is a (permuted) contiguous block of their storage keep
sharing it; other strided views (``x[:, ::2]``) are sent as a shared
contiguous copy. GPU tensors are sent as copies of their values.
"""

import math
from multiprocessing.reduction import DupFd, ForkingPickler

from ember import _ember
from ember import _pickle


def _view_order(shape, strides):
    """The dims of a view from the outermost in memory to the innermost when
    the view is a contiguous block read in a permuted order, else None."""
    dims = [d for d in range(len(shape)) if shape[d] != 1]
    dims.sort(key=lambda d: -strides[d])
    expected = 1
    for d in reversed(dims):
        if strides[d] != expected:
            return None
        expected *= shape[d]
    ones = [d for d in range(len(shape)) if shape[d] == 1]
    # Size-1 dims read no memory: put them innermost.
    return dims + ones


def _view_of(base, shape, strides, offset):
    """The view of ``base`` (a whole dense storage) with this layout."""
    shape, strides = tuple(shape), tuple(strides)
    if shape == tuple(base.shape) and offset == 0 and \
            strides == tuple(base.stride()):
        return base
    numel = math.prod(shape)
    flat = base.reshape(-1)
    if numel == 0:
        return flat[:0].reshape(shape)
    order = _view_order(shape, strides)
    block = flat[offset:offset + numel].view([shape[d] for d in order])
    inverse = [0] * len(order)
    for position, d in enumerate(order):
        inverse[d] = position
    return block.permute(inverse) if inverse != list(range(len(order))) else block


def rebuild_shared_tensor(cls, fd, dtype, storage_shape, shape, strides, offset,
                          requires_grad):
    """Unpickles a tensor sent through shared memory."""
    base = _ember._tensor_from_shared_fd(fd.detach(), dtype, storage_shape)
    return _pickle.finish(cls, _view_of(base, shape, strides, offset),
                          requires_grad)


def reduce_tensor(tensor):
    """ForkingPickler's reduction of an ember tensor (see the module doc)."""
    from ember.multiprocessing import get_sharing_strategy
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, "
            "since autograd does not support crossing process boundaries.  If you "
            "just want to transfer the data, call detach() on the tensor before "
            "serializing (e.g., putting it on the queue).")
    if tensor.device.type != "cpu":
        return _pickle.reduce_copy(tensor)
    assert get_sharing_strategy() == "file_descriptor"
    shape, strides = tuple(tensor.shape), tensor.stride()
    sent = tensor
    if math.prod(shape) != 0 and _view_order(shape, strides) is None:
        sent = tensor.detach().contiguous()
        strides = sent.stride()
    fd, _, dtype, storage_shape = sent._shared_storage_handle()
    return rebuild_shared_tensor, (
        type(tensor), DupFd(fd), dtype, storage_shape, shape, strides,
        sent.storage_offset(), tensor.requires_grad)


def init_reductions():
    """Registers the reductions with multiprocessing's ForkingPickler (what
    its queues, pipes and process arguments are pickled with)."""
    from ember.nn.parameter import Parameter
    for cls in (_ember.Tensor, Parameter):
        ForkingPickler.register(cls, reduce_tensor)
