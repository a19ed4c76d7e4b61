"""`python -m spinstream ...` is the `spinstream` command."""

from spinstream.cli import main

raise SystemExit(main())
