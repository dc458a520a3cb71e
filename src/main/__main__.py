"""Allow `python -m main` as another name for the `registry-mirror` command."""

from main.cli.app import main

main()
