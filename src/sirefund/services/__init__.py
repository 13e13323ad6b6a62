"""Use cases. Shape: `(session, *, named args) -> concrete result`. They add to the session
and flush; they never commit — the entry point (request, CLI command, worker) owns the
transaction."""
