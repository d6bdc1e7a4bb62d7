"""The router: a pipeline of small steps (authenticate, deduplicate, decide, outputs, settle) that
imports no broker or database library, and the service that runs it on the transport's consumer
loop.

- ports.py: the protocols the pipeline needs (publisher, outbox, routing index, the input);
- outcomes.py: what a step makes of one input (Quarantine, Route, Duplicate);
- authenticate.py, deduplicate.py, decide.py, outputs.py, settle.py: the steps;
- pipeline.py: the steps composed for a batch; counting.py: counters, metrics, log lines;
- service.py: the running router (broker/transport/consumer.py + the pipeline + the store).
"""
