"""What tests share, and only through here (tests/unit/test_layering.py checks it): a provisioned
deployment, messages and routing worlds, queues and traffic read as an administrator, message
streams and worker processes for the fault tests; and the infrastructure the tests start on this
machine for themselves: their own RabbitMQ nodes (one, or a cluster of three) and their own
PostgreSQL, so that faults never touch the shared services."""
