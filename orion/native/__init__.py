"""Support for native (C and C++) traces: symbolization at read time, the agent library's
build and preload environment, and the compiler flags that turn tracing on."""
