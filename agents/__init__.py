"""The agents: one graph node per module, plus the reasoners that judge evidence."""
