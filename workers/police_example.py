"""Entry point of the example police integration (broker/tools/police_example.py)."""

import sys

from broker.tools.police_example import main

if __name__ == "__main__":
    sys.exit(main())
