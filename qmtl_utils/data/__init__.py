"""Data for the three benchmarks: loaders for the real data as users have it, and the seeded
offline demo datasets of the ``demo``/``smoke`` profiles (one module per benchmark)."""
