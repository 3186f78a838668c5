"""The clock acting: the deadline sweep and the digests of what is due."""
