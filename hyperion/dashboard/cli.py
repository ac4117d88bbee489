"""`hyperion dashboard` (a read-only web UI over a storage) and `hyperion report` (one HTML file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hyperion.cli.studies import with_storage
from hyperion_core.errors import HyperionError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
EXTRA = "pip install 'hyperion-tune[dashboard]'"


def add_parsers(commands: Any) -> None:
    dash = with_storage(commands.add_parser("dashboard", help="a read-only web UI over a storage's studies"))
    dash.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    dash.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    dash.add_argument(
        "--allowed-hosts",
        default=None,
        help="comma-separated host names the dashboard answers to (default: 127.0.0.1, localhost, ::1, and "
        "--host); behind a proxy, the name users type",
    )
    dash.set_defaults(handler=dashboard)
    report = with_storage(commands.add_parser("report", help="one self-contained HTML file for a study"))
    report.add_argument("name", help="the study")
    report.add_argument("--output", "-o", default=None, help="the file to write (default: <name>.html)")
    report.set_defaults(handler=write_report)


def _needs_extra() -> str | None:
    for module in ("starlette", "uvicorn", "jinja2", "plotly"):
        try:
            __import__(module)
        except ImportError:
            return f"the dashboard needs {module!r}: {EXTRA}"
    return None


def dashboard(args: argparse.Namespace) -> int:
    if (missing := _needs_extra()) is not None:
        return _fail(missing)
    import uvicorn

    from hyperion.dashboard.app import create_app
    from hyperion.dashboard.source import open_storage

    if not 0 < args.port < 65536:
        return _fail(f"--port must be between 1 and 65535, got {args.port}")
    try:
        storage = open_storage(args.storage)
    except HyperionError as exc:
        return _fail(str(exc))
    if args.host not in LOCAL_HOSTS:
        print(
            f"hyperion: warning: listening on {args.host}: anyone who can reach this address can read every "
            "study in the storage (there is no login); use --host 127.0.0.1 and an SSH tunnel instead",
            file=sys.stderr,
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Hyperion dashboard for {storage.url} on http://{host}:{args.port}/ (Ctrl+C stops it)", file=sys.stderr)
    try:
        uvicorn.run(create_app(storage, allowed_hosts(args)), host=args.host, port=args.port, log_level="warning")
    finally:
        storage.close()
    return 0


def allowed_hosts(args: argparse.Namespace) -> list[str]:
    """The Host headers to answer: --allowed-hosts, else this machine's names and the address listened on."""
    from hyperion.dashboard.app import LOCAL_NAMES

    if args.allowed_hosts:
        return [h.strip() for h in args.allowed_hosts.split(",") if h.strip()]
    return [*LOCAL_NAMES, *([args.host] if args.host not in LOCAL_NAMES else [])]


def write_report(args: argparse.Namespace) -> int:
    if (missing := _needs_extra()) is not None:
        return _fail(missing)
    from hyperion.dashboard.app import report_html
    from hyperion.dashboard.source import open_storage

    try:
        storage = open_storage(args.storage)
        try:
            html = report_html(storage, args.name)
        finally:
            storage.close()
    except HyperionError as exc:
        return _fail(str(exc))
    output = Path(args.output) if args.output else Path(_file_name(args.name) + ".html")
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {str(output)!r}: {exc.strerror or exc}")
    print(
        f"wrote {output} ({len(html.encode()) / 1e6:.1f} MB): open it in a browser, no server needed", file=sys.stderr
    )
    return 0


def _file_name(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return safe[:100] or "study"


def _fail(message: str) -> int:
    print(f"hyperion: {message}", file=sys.stderr)
    return 1
