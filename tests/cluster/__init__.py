"""Tests on a RabbitMQ cluster the suite starts itself (marker `cluster`, not in the default run)."""
