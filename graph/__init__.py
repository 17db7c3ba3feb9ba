"""Wiring of the triage state machine: state, runtime context, builder and runner."""
