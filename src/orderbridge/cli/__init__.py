"""The `orderbridge` command line: thin commands that parse input, call one service, render the result."""

from __future__ import annotations

from orderbridge.cli.app import app, main

__all__ = ["app", "main"]
