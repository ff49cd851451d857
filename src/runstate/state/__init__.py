"""State layer: value objects, canonical encoding and the capturers of each dimension."""
