import sys

from orion.cli import main

sys.exit(main())
