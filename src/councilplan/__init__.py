"""councilplan: democratic economic planning from below."""

__version__ = "0.1.0"
