"""mailsh server: runs inside the container; verifies, runs and answers signed requests."""
