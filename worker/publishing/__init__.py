"""What goes out: the records the worker publishes, split by who publishes them (the batch,
the renderer), with the snapshot builders they and the read API share. The one place that
maps the domain onto the contract's outgoing models."""
