"""Reading a product directory into a validated, cross-checked plan; nothing Dagster-specific yet."""
