"""Typed models: the portfolio input, the resolved world of sites and offers, the plan."""
