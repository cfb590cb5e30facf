"""`orion serve`: a read-only web view over the spool, drawn from the library the CLI uses.

catalog.py finds traces by id; api.py answers the JSON routes; server.py is the HTTP side
(standard library, Server-Sent Events); static/ holds the page (no build step).
"""
