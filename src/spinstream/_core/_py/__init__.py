"""Pure-Python twins of the compiled core: same API, the oracle for tests."""
