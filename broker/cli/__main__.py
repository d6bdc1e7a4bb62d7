"""`python -m broker.cli`: the same as the `referral-broker` command."""

import sys

from broker.cli.main import main

sys.exit(main())
