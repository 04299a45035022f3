"""The click layer: one module per command, each a thin wrapper over the library."""
