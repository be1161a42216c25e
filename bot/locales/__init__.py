"""Message catalogs, one module per language, keyed by the English text."""
