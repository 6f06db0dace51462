"""Plain pickling of tensors (``pickle.dumps(t)``, ``copy.copy``): the
values are copied, as torch's tensors pickle their storage. Queues and pipes
of ``ember.multiprocessing`` send tensors through shared memory instead
(``ember.multiprocessing.reductions``)."""

import numpy as np

from ember import _ember


def _values(tensor):
    """A NumPy copy of ``tensor``'s values (bfloat16 as float32), its dtype
    name and its device."""
    t = tensor.detach()
    device = str(t.device)
    if device != "cpu":
        t = t.cpu()
    dtype = t.dtype
    if dtype == _ember.bfloat16:
        t = t.float()
    return np.array(t.numpy(), copy=True), repr(dtype).split(".")[-1], device


def _rebuild(cls, array, dtype_name, device, requires_grad):
    """Unpickles a tensor (or a Parameter) from its values."""
    t = _ember.from_numpy(array).to(getattr(_ember, dtype_name))
    if device != "cpu":
        t = t.to(device)
    return finish(cls, t, requires_grad)


def finish(cls, t, requires_grad):
    """``t`` as an instance of ``cls`` (Tensor, or a subclass such as
    Parameter) with ``requires_grad``."""
    from ember.nn.parameter import Parameter
    if cls is Parameter or (isinstance(cls, type) and issubclass(cls, Parameter)):
        return cls(t, requires_grad)
    if cls is not _ember.Tensor:
        t = cls(t)
    if requires_grad:
        t.requires_grad_(True)
    return t


def reduce_copy(tensor):
    """The reduction of a tensor that pickles a copy of its values."""
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, "
            "since autograd does not support crossing process boundaries.  If you "
            "just want to transfer the data, call detach() on the tensor before "
            "serializing (e.g., putting it on the queue).")
    array, dtype_name, device = _values(tensor)
    return _rebuild, (type(tensor), array, dtype_name, device, tensor.requires_grad)


def install():
    """Makes ember.Tensor (and its subclasses) picklable."""
    _ember.Tensor.__reduce_ex__ = lambda self, protocol: reduce_copy(self)
