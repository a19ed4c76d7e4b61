"""The stream-fed state store behind ctx."""
