"""`orion serve`: the web view (see docs/serve.md)."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import click

from ..errors import OrionError
from ..options import spool_option
from ..spool import Spool

DEFAULT_PORT = 7474


@click.command("serve")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path),
                metavar="[PATHS]...")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; beyond loopback a token is required.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT,
              show_default=True, help="Port to listen on (0: any free port).")
@click.option("--token", metavar="TOKEN", envvar="ORION_SERVE_TOKEN",
              help="The token required beyond loopback (default: a new random one, printed).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
@spool_option
def command(paths: tuple[Path, ...], host: str, port: int, token: str | None,
            open_browser: bool, spool: Spool) -> None:
    """Serve a read-only web view of the spool (and of PATHS: .otrace files or directories).

    The page lists traces (live as they appear), and for one trace shows a timeline per
    lane with a time slider, the stack and values at the slider's instant, the
    environment, the call graph, the flame graph, and the diff with another trace.
    Binds to 127.0.0.1; on any other address every request must carry the token
    (open the printed URL once). Stop it with Ctrl-C.
    """
    from ..serve import registry
    from ..serve.catalog import Catalog
    from ..serve.server import OrionServer, is_loopback, new_token

    if not is_loopback(host) and not token:
        token = new_token()
    try:
        server = OrionServer((host, port), Catalog(spool, list(paths)),
                             token=None if is_loopback(host) else token)
    except OSError as exc:
        raise OrionError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    url = server.url + (f"?token={server.token}" if server.token else "")
    click.echo(f"orion serve: {url} (spool {spool.path}); Ctrl-C to stop", err=True)
    if open_browser:
        webbrowser.open(url)
    registry.register(server.url, spool.path)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        registry.unregister()
        server.server_close()
