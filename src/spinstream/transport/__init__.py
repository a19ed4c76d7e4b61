"""I/O only: WebSocket and HTTP clients, timers and the pump between sockets and protocols.

Nothing here knows a venue: frames and requests come from, and go to, sans-I/O protocol objects.
"""
