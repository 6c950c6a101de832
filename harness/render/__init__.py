"""Finished tables as text: terminal, Markdown, CSV, LaTeX and the static HTML page. Renderers decide nothing."""
