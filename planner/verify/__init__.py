"""The independent verifier: it recomputes every claim of a plan from the inputs and imports no
candidate generator, pricing or solver code."""
