"""How runs execute: resources, the executor and per-step settings."""
