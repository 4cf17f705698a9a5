"""On-disk structures: one module per structure, each with its read and write."""
