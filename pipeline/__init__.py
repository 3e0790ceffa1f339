"""tifa: the formulaic phrases (提法) of Chinese official texts and their adoption across regions."""

__version__ = "0.1.0"
