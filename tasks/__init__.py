"""Built-in benchmark plugins: one module per benchmark, found automatically by ``harness.api.registry``."""
