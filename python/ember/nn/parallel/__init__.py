"""``ember.nn.parallel``: DistributedDataParallel (and a one-device
DataParallel) with torch's names."""

from ember.nn.parallel.data_parallel import DataParallel  # noqa: F401
from ember.nn.parallel.distributed import DistributedDataParallel  # noqa: F401
