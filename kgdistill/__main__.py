"""``python -m kgdistill``: the command line (same as the ``kgdistill`` script)."""
import sys

from kgdistill.cli import main

sys.exit(main())
