"""Domain concepts of xinyong: identifiers, conduct records and the code catalog."""
