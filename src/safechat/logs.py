"""structlog setup: console lines in dev, JSON in production, request/socket ids bound."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "INFO", fmt: str = "auto", env: str = "dev") -> None:
    use_json = fmt == "json" or (fmt == "auto" and env == "production")
    tty = sys.stderr.isatty()
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(
            colors=tty,
            # Rich tracebacks cost ~10 ms each: under overload, when batches time out, they
            # took a fifth of the server's CPU. Only a person at a terminal reads them, and
            # never with the frames' locals (message text, tokens).
            exception_formatter=(
                structlog.dev.RichTracebackFormatter(show_locals=False)
                if tty
                else structlog.dev.plain_traceback
            ),
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if use_json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Library loggers (aiohttp access, socketio) stay quiet unless they warn.
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
