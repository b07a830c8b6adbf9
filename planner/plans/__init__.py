"""From a solver's answer to plan documents: build a plan, partial plans and plan diffs."""
