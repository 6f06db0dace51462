"""``DataParallel`` for code written for torch: Ember runs a model on one
device per process, so the wrapper only forwards (state_dict keys gain
torch's ``module.`` prefix). Use DistributedDataParallel for several
processes or machines."""

from ember.nn.module import Module


class DataParallel(Module):
    """Runs ``module`` as is; ``device_ids``, ``output_device`` and ``dim``
    are accepted for torch's signature."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
