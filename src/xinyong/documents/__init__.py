"""Documents people download and keep: rendered from signed data, and checked by rendering
the data again (the page must be exactly what its data renders to)."""
