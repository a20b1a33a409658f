"""Aura's stages as Prefect tasks, and the pure helpers they are built from."""
