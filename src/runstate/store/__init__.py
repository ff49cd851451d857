"""Store layer: content-addressed objects, the journal, and the metadata database."""
