"""The tracker process: settings → consumer loop → tracker (broker/tracker/service.py).
`python -m workers.tracker [options]` is `referral-broker track [options]`: the command line reads
the settings (broker/tracker/settings.py), opens the store and runs the tracker."""

from __future__ import annotations

import sys

from broker.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["track", *sys.argv[1:]]))
