"""Turning computed results into text: tables, JSON, trees. Computes nothing itself."""
