"""ember.utils: torch.utils's data loading (``ember.utils.data``)."""

from ember.utils import data  # noqa: F401
