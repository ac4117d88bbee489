"""The web dashboard: a read-only Starlette app over one storage, pages rendered on the server with
Jinja2 (autoescaped), figures drawn in the browser by the Plotly.js that ships in the `plotly` package.

Pages: `/` (studies), `/studies/{name}` (figures and the trial table), `/studies/{name}/trials/{n}`.
JSON: `/api/studies`, `/api/studies/{name}` (header and figures), `/api/studies/{name}/seq` (what a
page polls to see that something changed), `/api/studies/{name}/trials` (one page of the table) and
`/api/studies/{name}/trials/{n}`. Only GET routes exist; the storage is never written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from hyperion.dashboard import pairs
from hyperion.dashboard.source import study_figures
from hyperion_core.errors import HyperionError, StorageError
from hyperion_core.text import dumps

POLL_MS = 2_000  # how often an open page asks whether the study changed


def embed(value: Any) -> str:
    """JSON for a <script type="application/json"> block: no `<`, `>` or `&` left to end the block."""
    return dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def templates() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hyperion.dashboard", "templates"),
        autoescape=True,  # every value is escaped unless a template says otherwise (only the embedded JSON)
        undefined=jinja2.StrictUndefined,
    )
    import markupsafe

    env.filters["embed"] = lambda v: markupsafe.Markup(embed(v))
    env.filters["segment"] = lambda v: quote(str(v), safe="")  # a study name as one URL path segment
    return env


def asset(name: str) -> str:
    if name == "plotly.min.js":
        import plotly

        return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")
    return resources.files("hyperion.dashboard").joinpath("static", name).read_text(encoding="utf-8")


def trial_query(params: Any) -> dict[str, Any]:
    """The trial table's query string as trials_view arguments: sort, desc, state, offset, limit, and
    `p.<name>=lo:hi` (numbers, either end may be empty) or `p.<name>=text` (a category)."""
    ranges: dict[str, tuple[float | None, float | None]] = {}
    equals: dict[str, str] = {}
    for key, text in params.items():
        if not key.startswith("p.") or text == "":
            continue
        name = key[2:]
        lo, sep, hi = text.partition(":")
        try:
            if sep:
                ranges[name] = (float(lo) if lo else None, float(hi) if hi else None)
            else:
                equals[name] = text
        except ValueError:
            raise StorageError(f"filter {name}: {text!r} is not a range lo:hi of numbers") from None

    def number(key: str, default: int) -> int:
        try:
            value = int(params.get(key, default))
        except ValueError:
            raise StorageError(f"{key} must be a whole number, got {params.get(key)!r}") from None
        if not 0 <= value <= MAX_INDEX:
            raise StorageError(f"{key} must be from 0 to {MAX_INDEX}, got {value}")
        return value

    return {
        "sort": params.get("sort", "number"),
        "descending": params.get("desc", "") in ("1", "true"),
        "state": params.get("state") or None,
        "ranges": ranges,
        "equals": equals,
        "offset": number("offset", 0),
        "limit": number("limit", 50),
    }


#: The largest trial number or offset a request may name (what a 64-bit database integer holds).
MAX_INDEX = 2**63 - 1
#: In a study's URL its name is one path segment: "/" and "%" inside it stay escaped (%2F, %25), so that a
#: study named "x/trials/3" is never read as trial 3 of study "x".
_KEPT_ESCAPES = re.compile(r"%(2[fF]|25)")


def study_name(segment: str) -> str:
    """A study's name from its URL segment (see _KEPT_ESCAPES)."""
    return _KEPT_ESCAPES.sub(lambda m: "/" if m.group(1).lower() == "2f" else "%", segment)


def _path_keeping_escapes(raw: bytes) -> str:
    """The request path decoded, except %2F and %25 (starlette would decode them into the path)."""
    text = raw.decode("latin-1")
    parts = _KEPT_ESCAPES.split(text)
    out = []
    for i, part in enumerate(parts):
        out.append("%" + part if i % 2 else unquote(part, errors="replace"))
    return "".join(out)


#: The Host headers a dashboard answers by default: this machine's names for itself.
LOCAL_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def create_app(storage: Any, allowed_hosts: Sequence[str] | None = None) -> Any:
    """The ASGI app over `storage` (a SQL storage, see source.open_storage). It answers only requests
    whose Host header names one of `allowed_hosts` (default: this machine's names), so a web page that
    rebinds its own DNS name to 127.0.0.1 cannot read the studies."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    env = templates()
    static = {name: asset(name) for name in ("plotly.min.js", "app.js", "style.css")}
    kinds = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    security = {
        # No inline script runs on a dashboard page: even text that escaped escaping could not execute.
        "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    def page(template: str, status: int = 200, **context: Any) -> Response:
        html = env.get_template(template).render(storage=storage.url, report=False, poll_ms=POLL_MS, **context)
        return HTMLResponse(html, status_code=status, headers=security)

    def data(value: Any, status: int = 200) -> Response:
        return Response(dumps(value), status_code=status, media_type="application/json", headers=security)

    async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(fn, *args, **kwargs)

    async def studies_page(request: Request) -> Response:
        return page("studies.html", studies=await call(storage.list_studies))

    async def study_page(request: Request) -> Response:
        name = study_name(request.path_params["name"])
        study = await call(storage.study_view, name)
        return page("study.html", study=study, figures=await call(study_figures, storage, name, study))

    async def trial_page(request: Request) -> Response:
        name, number = study_name(request.path_params["name"]), request.path_params["number"]
        if number > MAX_INDEX:
            return page("error.html", 404, message=f"study '{name}' has no trial {number}")
        trial = await call(storage.trial_view, name, number)
        if trial is None:
            return page("error.html", 404, message=f"study '{name}' has no trial {number}")
        return page("trial.html", study={"name": name}, trial=trial)

    async def compare_page(request: Request) -> Response:
        names = list(dict.fromkeys(request.query_params.getlist("study")))[: pairs.MAX_COMPARED]
        if not names:
            return page("error.html", 400, message="choose the studies to compare: /compare?study=a&study=b")
        views = await call(lambda: [(storage.study_view(n), storage.history_view(n)) for n in names])
        return page("compare.html", studies=[s for s, _ in views], figure=pairs.comparison(views))

    async def api_studies(request: Request) -> Response:
        return data(await call(storage.list_studies))

    async def api_study(request: Request) -> Response:
        """The study and its figures; the trial table's filter (state=, p.<name>=) applies to every figure."""
        name = study_name(request.path_params["name"])
        study = await call(storage.study_view, name)
        query = trial_query(request.query_params)
        keep = None
        if query["state"] or query["ranges"] or query["equals"]:
            kept = await call(
                storage.numbers_view, name, state=query["state"], ranges=query["ranges"], equals=query["equals"]
            )
            keep = set(kept)
        return data({"study": study, "figures": await call(study_figures, storage, name, study, keep)})

    async def api_seq(request: Request) -> Response:
        return data({"seq": await call(storage.seq_view, study_name(request.path_params["name"]))})

    async def api_trials(request: Request) -> Response:
        query = trial_query(request.query_params)
        return data(await call(storage.trials_view, study_name(request.path_params["name"]), **query))

    async def api_trial(request: Request) -> Response:
        number = request.path_params["number"]
        found = number <= MAX_INDEX
        trial = await call(storage.trial_view, study_name(request.path_params["name"]), number) if found else None
        return data(trial, 200 if trial is not None else 404)

    async def static_file(request: Request) -> Response:
        name = request.path_params["file"]
        if name not in static:
            return Response("not found", 404)
        headers = {**security, "Cache-Control": "max-age=3600"}
        return Response(static[name], media_type=kinds[Path(name).suffix], headers=headers)

    async def failed(request: Request, exc: Exception) -> Response:
        message = str(exc) if isinstance(exc, HyperionError) else f"{type(exc).__name__}: the server failed"
        status = 404 if message.startswith("no study named") else 400 if isinstance(exc, HyperionError) else 500
        if request.url.path.startswith("/api/"):
            return data({"error": message}, status)
        return page("error.html", status, message=message)

    routes = [
        Route("/", studies_page),
        Route("/compare", compare_page),
        Route("/studies/{name}/trials/{number:int}", trial_page),
        Route("/studies/{name}", study_page),
        Route("/api/studies", api_studies),
        Route("/api/studies/{name}/trials/{number:int}", api_trial),
        Route("/api/studies/{name}/trials", api_trials),
        Route("/api/studies/{name}/seq", api_seq),
        Route("/api/studies/{name}", api_study),
        Route("/static/{file}", static_file),
    ]
    hosts = list(allowed_hosts) if allowed_hosts else list(LOCAL_NAMES)
    app = Starlette(
        routes=routes,
        exception_handlers={HyperionError: failed, Exception: failed},
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
    )

    async def names_kept_whole(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("raw_path"):
            scope = {**scope, "path": _path_keeping_escapes(scope["raw_path"].split(b"?", 1)[0])}
        await app(scope, receive, send)

    return names_kept_whole


def report_html(storage: Any, name: str, max_details: int = 1_000) -> str:
    """One self-contained HTML file: the study page with its data, the trial table, the details of up
    to `max_details` trials (the best and the latest), and every script and style inlined."""
    study = storage.study_view(name)
    figures_ = study_figures(storage, name, study)
    rows: list[dict[str, Any]] = []
    offset = 0
    while offset < study["trials"] and len(rows) < 100_000:
        page = storage.trials_view(name, offset=offset, limit=200)
        if not page["rows"]:
            break
        rows += page["rows"]
        offset += len(page["rows"])
    chosen = sorted(rows, key=lambda r: r["number"], reverse=True)[: max_details // 2]
    ranked = [r for r in rows if r["value"] is not None]
    ranked.sort(key=lambda r: r["value"], reverse=study["modes"][0] == "max")
    chosen += ranked[: max_details // 2]
    details = {}
    for r in chosen:
        if r["number"] not in details and (trial := storage.trial_view(name, r["number"])) is not None:
            details[r["number"]] = trial
    env = templates()
    html: str = env.get_template("study.html").render(
        storage=storage.url,
        report=True,
        poll_ms=0,
        study=study,
        figures=figures_,
        rows=rows,
        details=details,
        # a script's text ends at the first "</script": none of ours may contain one
        assets={k: asset(k).replace("</script", "<\\/script") for k in ("plotly.min.js", "app.js", "style.css")},
    )
    return html
