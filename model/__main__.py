"""`python -m model <command> ...`: the one command line (model/cli.py lists the commands)."""
import sys

from .cli import main

sys.exit(main())
