"""ember.utils.data: torch.utils.data's datasets, samplers and DataLoader.

A program written for ``torch.utils.data`` runs with ``import ember as torch``
(or ``from ember.utils.data import ...``). Random samplers reproduce torch
1.13's indices for the same generator seed. See docs/data.md.
"""

from ember.utils.data._collate import default_collate, default_convert  # noqa: F401
from ember.utils.data._worker import WorkerInfo, get_worker_info  # noqa: F401
from ember.utils.data.dataloader import DataLoader, _DatasetKind  # noqa: F401
from ember.utils.data.dataset import (ChainDataset, ConcatDataset, Dataset,  # noqa: F401
                                      IterableDataset, StackDataset, Subset,
                                      TensorDataset, random_split)
from ember.utils.data.distributed import DistributedSampler  # noqa: F401
from ember.utils.data.sampler import (BatchSampler, RandomSampler, Sampler,  # noqa: F401
                                      SequentialSampler, SubsetRandomSampler,
                                      WeightedRandomSampler)

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "DistributedSampler", "IterableDataset", "RandomSampler", "Sampler",
           "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler",
           "TensorDataset", "WeightedRandomSampler", "WorkerInfo", "default_collate",
           "default_convert", "get_worker_info", "random_split"]
