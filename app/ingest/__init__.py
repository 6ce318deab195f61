"""Loading data: the reference units, the article record format, the seed."""
