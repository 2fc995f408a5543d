"""``python -m xinyong`` runs the CLI."""

from __future__ import annotations

from xinyong.cli.app import main

main()
