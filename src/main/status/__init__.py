"""Report what the mirrors hold and whether the engine uses them."""
