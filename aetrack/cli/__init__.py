"""Command-line interface: one small module per command, each calling the library."""
