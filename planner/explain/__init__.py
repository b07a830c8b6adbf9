"""Explanations a reviewer can check: why each stage runs where it runs, and its runner-up."""
