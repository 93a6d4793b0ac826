"""leuko: an offline command-line clinical reference on leukopenia and neutropenia."""

__version__ = "0.1.0"
