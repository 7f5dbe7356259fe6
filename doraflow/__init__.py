"""doraflow: a DORA and flow metrics warehouse."""

__version__ = "0.1.0"
