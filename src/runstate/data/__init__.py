"""Data layer: fingerprints of files, folders (and, later, tables), with their caches."""
