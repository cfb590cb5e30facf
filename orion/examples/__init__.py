"""Small programs bundled with Orionis so that `orion demo` has something real to record."""
