"""Sources: where lines come from (files, stdin; sockets and commands in their own modules)."""
