"""What a run is on disk, read and written in one place (schema, io), and the one definition of the same model and
the same experiment (comparability)."""
