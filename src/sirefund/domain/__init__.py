"""The pure core: rules and values. Imports nothing of ours outside this package, no I/O, no clock."""
