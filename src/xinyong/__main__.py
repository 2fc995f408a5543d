"""``python -m xinyong`` runs the CLI."""

from __future__ import annotations

from xinyong.cli.app import main

if __name__ == "__main__":  # not when a worker process (spawn) imports the parent's main module
    main()
