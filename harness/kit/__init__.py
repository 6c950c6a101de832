"""Building blocks for task plugins: the multiple-choice task base and answer parsers (numbers in each
language's format). Above the metrics, below everything that runs tasks."""
