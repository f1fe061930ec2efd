"""The bureau's monitoring page: ``referrals serve``."""

from __future__ import annotations

from typing import Annotated

import typer

from referrals.options import Context, err, shared

app = typer.Typer()

PortOption = Annotated[
    int | None,
    typer.Option("--port", help="port to listen on [env REFERRALS_SERVE_PORT; default 8000]"),
]
HostOption = Annotated[str, typer.Option("--host", help="address to listen on")]


@app.command()
@shared
def serve(ctx: Context, port: PortOption = None, host: HostOption = "0.0.0.0") -> None:
    """Serve the monitoring page and its JSON API over --db until interrupted: pipeline,
    dead letters, cases, scorecards, penalties; /health, /ready, /metrics, /docs."""
    from runtime import resume, signals

    # uvicorn shuts down on SIGINT and SIGTERM, then raises the signal again for us
    with signals.resume_hint(lambda stop: resume.service_advice("serve", stop.signum)):
        run_page(ctx, port or ctx.settings.serve_port, host)


def run_page(ctx: Context, port: int, host: str = "0.0.0.0") -> None:
    import uvicorn

    from streams.logging import configure
    from web.app import create_app

    configure(ctx.settings.log_format, ctx.settings.log_level)
    page = create_app(ctx.settings)
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    err.print(f"monitoring page at http://{shown}:{port}/", markup=False, highlight=False)
    uvicorn.run(page, host=host, port=port, log_level="warning")
