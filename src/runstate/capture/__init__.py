"""Capture layer: the Run API, steps, and the ``runstate run`` launcher with its audit hooks."""
