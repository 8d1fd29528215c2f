"""The offline test lab: containers built from the local base image (docs/ARCHITECTURE.md §7)."""
