"""`python -m core …`: the command line (see core/cli.py)."""
import sys

from .allocator import keep_freed_memory

keep_freed_memory()  # before numpy and torch allocate anything (see core/allocator.py)

from .cli import main  # noqa: E402

sys.exit(main())
