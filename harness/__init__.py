"""xlh: the cross-lingual evaluation harness (import package ``harness``)."""

__version__ = "0.1.0"
