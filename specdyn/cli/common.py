"""What every subcommand module shares: the type of the parser it adds itself to."""

from __future__ import annotations

import argparse

Subparsers = argparse._SubParsersAction  # of argparse.ArgumentParser
