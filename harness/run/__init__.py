"""One evaluation run: its config, data, LIMIT sample, the runner, the response cache, model fingerprints and the
model store."""
