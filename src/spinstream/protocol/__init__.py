"""Sans-I/O venue protocols: frames and timestamps in, events and frames to send out.

Nothing under this package performs I/O, reads a clock or imports asyncio, aiohttp or
websockets (tests/unit/test_layering.py enforces it); the transport layer drives it.
"""
