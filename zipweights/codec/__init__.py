"""Pure codec stages: bytes in, bytes out, no files and no container knowledge."""
