"""The offline test lab: containers built from the local base image (DESIGN §6)."""
