"""CLI layer: parse arguments, call the library, render (text, or JSON with ``--json``)."""
