"""The plugin API: what a benchmark plugin subclasses and uses (Task, requests, languages, the metric protocol,
the task registry)."""
