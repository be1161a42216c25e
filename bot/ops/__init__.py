"""Running the bot: the command line, ``check``, the health endpoint and Prometheus metrics."""
