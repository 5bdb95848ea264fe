"""hera_utils: settings, access checks, local runs and a template for Hera experiments."""

__version__ = "0.1.0"
