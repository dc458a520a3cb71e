"""Report what the mirrors hold, whether the engine uses them, and explain old configs."""
