"""`logscope demo`: a simulated microservice fleet with incidents, to watch in the TUI."""
