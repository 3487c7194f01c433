"""``python -m autograder ...`` is ``seqlab-grade ...``."""
import sys

from .cli import main

sys.exit(main())
