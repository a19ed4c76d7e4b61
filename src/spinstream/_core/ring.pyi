"""Types of the compiled `spinstream._core.ring` (built from _ext/spinstream/_core/ring.pyx).

Its interface is its pure-Python twin's, which the tests hold to the same behaviour in both
core modes: the stub re-exports the twin's public names.
"""

from spinstream._core._py.ring import *  # noqa: F403
from spinstream._core._py.ring import __all__ as __all__
