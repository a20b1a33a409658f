"""Front doors: the CLI, the REST/SSE API and the web page."""
