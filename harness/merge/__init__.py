"""Merged models from recipes: recipe files, mergekit's configuration, and building a merged folder with its
provenance (``xlh merge``)."""
