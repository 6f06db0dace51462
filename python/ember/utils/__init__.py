"""ember.utils: torch.utils's data loading (``ember.utils.data``) and C++
extensions (``ember.utils.cpp_extension``)."""

from ember.utils import data  # noqa: F401
from ember.utils import cpp_extension  # noqa: F401,E402
