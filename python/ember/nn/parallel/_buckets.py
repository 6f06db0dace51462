"""Gradient bucket assignment for DistributedDataParallel, torch's rule
(``torch.distributed._compute_bucket_assignment_by_size`` as torch 1.13's
DDP calls it): parameters in registration order fill buckets of one dtype
and device; a bucket closes once it holds at least its size limit (the
first bucket of each dtype 1 MiB, the others ``bucket_cap_mb``); buckets
are sorted by the lowest parameter index they hold, then reversed, so the
first bucket holds the last parameters, whose gradients the backward
produces first."""

# torch.distributed._DEFAULT_FIRST_BUCKET_BYTES
DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024


def _element_size(tensor):
    return tensor.element_size()


def compute_bucket_assignment_by_size(tensors, bucket_size_limits):
    """Buckets (lists of indices into ``tensors``) in registration order,
    each one dtype and device, as torch's C++ helper returns them, with
    each bucket's size limit."""
    open_buckets = {}   # (dtype, device) -> [indices, bytes, limit position]
    result = []
    for index, tensor in enumerate(tensors):
        key = (str(tensor.dtype), str(getattr(tensor, "device", "cpu")))
        bucket = open_buckets.setdefault(key, [[], 0, 0])
        bucket[0].append(index)
        bucket[1] += tensor.numel() * _element_size(tensor)
        limit = bucket_size_limits[min(bucket[2], len(bucket_size_limits) - 1)]
        if bucket[1] >= limit:
            result.append((bucket[0], limit))
            open_buckets[key] = [[], 0, bucket[2] + 1]
    for indices, _, position in open_buckets.values():
        if indices:
            result.append((indices, bucket_size_limits[min(position,
                                                           len(bucket_size_limits) - 1)]))
    result.sort(key=lambda item: min(item[0]))
    return [indices for indices, _ in result], [limit for _, limit in result]


def ddp_buckets(parameters, bucket_cap_mb):
    """The buckets DDP reduces, in reduction order (the last parameters
    first): lists of parameter indices."""
    limits = [DEFAULT_FIRST_BUCKET_BYTES, int(bucket_cap_mb * 1024 * 1024)]
    buckets, _ = compute_bucket_assignment_by_size(list(parameters), limits)
    return list(reversed(buckets))
