"""Infrastructure the tests start on this machine for themselves: their own RabbitMQ nodes (one, or a
cluster of three) and their own PostgreSQL, so that faults never touch the shared services."""
