"""Scene visuals: drawn cards, diffusers, OpenAI images."""
