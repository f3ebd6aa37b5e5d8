"""The repository's `dg` project: every product under products/ as a `FloeProduct` component."""
