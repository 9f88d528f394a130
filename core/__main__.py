"""`python -m core …`: the command line (see core/app/cli.py)."""
import sys

from .mem.allocator import keep_freed_memory

keep_freed_memory()  # before numpy and torch allocate anything (see core/mem/allocator.py)

from .app.cli import main  # noqa: E402

sys.exit(main())
