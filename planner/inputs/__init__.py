"""Reading what users give the planner: files (YAML/JSON, bounded and defensive), validation
messages, edits of a portfolio in code, and the digests that tie a plan to its inputs."""
