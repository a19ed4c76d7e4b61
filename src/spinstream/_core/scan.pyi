"""Types of the compiled `spinstream._core.scan` (built from _ext/spinstream/_core/scan.pyx).

Its interface is its pure-Python twin's, which the tests hold to the same behaviour in both
core modes: the stub re-exports the twin's public names.
"""

from spinstream._core._py.scan import *  # noqa: F403
from spinstream._core._py.scan import __all__ as __all__
