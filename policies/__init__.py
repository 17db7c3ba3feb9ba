"""Settings and the pure, deterministic release policy."""
