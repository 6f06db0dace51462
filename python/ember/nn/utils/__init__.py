"""``ember.nn.utils``."""

from ember.nn.utils import rnn  # noqa: F401
