"""The router process: settings → consumer loop (broker/transport/consumer.py) → pipeline
(broker/router/pipeline.py). `python -m workers.router [options]` is `referral-broker route
[options]`: the command line reads the settings and the participants and runs broker/router/service.py."""

from __future__ import annotations

import sys

from broker.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["route", *sys.argv[1:]]))
