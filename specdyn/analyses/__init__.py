"""Analyses: computations that read finished runs through the store and write back to it."""
