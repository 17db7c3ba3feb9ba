"""Entry points (CLI, worker) and persistence of quarantine-release."""
