"""The Prefect plumbing of the stages: caching, retry, fallback, profiles, progress, events, metrics, artifacts."""
