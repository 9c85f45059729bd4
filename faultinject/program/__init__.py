"""Crash-test any Python program's files: `python -m tornwrite.faultinject program TARGET` (docs/PROGRAMS.md)."""

from tornwrite.faultinject.program.judge import LostAck

__all__ = ["LostAck"]
