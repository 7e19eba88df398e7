"""The command-line interface: ``specdyn tasks | run | plot | compare | show``."""
