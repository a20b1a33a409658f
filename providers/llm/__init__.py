"""Script writers: the local template, OpenAI and OpenAI-compatible servers."""
