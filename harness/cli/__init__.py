"""The xlh command line: one module per command (HELP, add_arguments, run); main builds the parser."""
