"""Operators' actions on the holding queues (rb.quarantine, rb.dead-letter), each audited: one
implementation that the `quarantine` and `dead-letter` commands and the operator console call."""
