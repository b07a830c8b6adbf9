"""planner: hybrid cloud workload placement planner for ML portfolios."""
