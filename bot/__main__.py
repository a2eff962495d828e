"""`python -m bot`: the same as the `mjbot` console script."""

from bot.cli import entry

entry()
