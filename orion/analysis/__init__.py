"""Analyses over recorded traces: replay (a cursor over events), diff and fingerprints.

Library code only: nothing here knows about click or terminals.
"""
