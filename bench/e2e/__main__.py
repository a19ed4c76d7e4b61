"""`python -m bench.e2e`: the loopback end-to-end benchmark (see bench/e2e/README.md)."""

import sys

from bench.e2e.run import main

sys.exit(main())
