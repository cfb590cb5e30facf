import sys

from orion.entry import main

sys.exit(main())
