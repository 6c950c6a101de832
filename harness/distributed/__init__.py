"""Runs with workers: long-lived Ray actors each holding one engine (``xlh eval --workers N``).

``ray_cluster`` starts or joins Ray, ``worker`` is the actor, ``pool`` shares the workers between runs and
dispatches chunks with retries, ``backend`` is the backend protocol over the pool, ``study`` runs a study's
models several at a time, ``progress`` is the one progress display. Ray is optional (``xlh[ray]``)."""
