"""Hostile and broken input gets a clear 4xx, never a 5xx, on SQLite and PostgreSQL.

Each case below was once a 500 (an adversarial sweep found them); the property test at the end
feeds every public route random bytes, huge integers and NULs in its path and query, and every
answer must be below 500. Run with ``-s`` to see how many requests were sent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.support.service_fixtures import SCHEME, Service, make_service
from tests.support.web_fixtures import Portal, form_token, seed_portal, sign_in
from xinyong.application.keys import Role, create_key
from xinyong.application.settings import ServiceSettings
from xinyong.cli.app import app as cli
from xinyong.ledger.database import open_database
from xinyong.server.app import create_app
from xinyong.service.auth import ROLE_KEY

runner = CliRunner()
DEEP = 'when = "' + "(" * 3000 + "amount > 1" + ")" * 3000 + '"'
"""A rule's predicate nested 3,000 deep."""


@pytest.fixture
def service(ledger_url: str) -> Iterator[Service]:
    svc = make_service(ledger_url)
    yield svc
    svc.engine.dispose()


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _statuses(service: Service, requests: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    async with service.client() as client:
        return [(await client.request(m, url, **kw)).status_code for m, url, kw in requests]


def test_numbers_beyond_what_a_database_holds_are_refused(service: Service) -> None:
    huge = str(2**70)
    statuses = _run(
        _statuses(
            service,
            [
                ("GET", f"/v1/lists/rongcheng/blacklist?offset={huge}", {}),
                ("GET", f"/v1/lists/rongcheng/blacklist?limit={huge}", {}),
                ("GET", f"/lists/rongcheng/blacklist?page={2**62}", {}),
                ("GET", f"/lists/rongcheng/blacklist.json?page={huge}", {}),
                ("GET", f"/lists/rongcheng/blacklist?per_page={huge}", {}),
            ],
        )
    )
    assert statuses == [422] * 5


def test_nul_and_control_characters_are_refused_in_paths_and_queries(service: Service) -> None:
    operator = {"headers": service.headers("operator")}
    relying = {"headers": service.headers("relying")}
    statuses = _run(
        _statuses(
            service,
            [
                ("GET", "/v1/decisions/a%00b", operator),
                ("DELETE", "/v1/keys/%00", operator),
                ("POST", "/v1/objections/x%00/decision", operator),
                ("GET", "/lists/rongcheng/blacklist/%00", {}),
                ("GET", "/schemes/%00", {}),
                ("GET", "/lists/rongcheng/blacklist?q=a%00", {}),
                ("GET", "/lists/rongcheng/blacklist.json?q=%1b", {}),
                ("GET", "/lists/rongcheng/blacklist?q=%ff%fe", {}),
                ("GET", "/v1/checks?subject=a%00&measure=restrict-flights", relying),
                ("GET", "/v1/checks?subject=ext:a&measure=%00", relying),
            ],
        )
    )
    assert statuses == [400, 400, 400, 400, 400, 422, 422, 400, 422, 403]


def _json(service: Service, role: str, path: str, body: bytes) -> httpx.Response:
    async def call() -> httpx.Response:
        async with service.client() as client:
            headers = {**service.headers(role), "content-type": "application/json"}
            return await client.post(path, content=body, headers=headers)

    result: httpx.Response = _run(call())
    return result


@pytest.mark.parametrize(
    ("role", "path", "body", "reason"),
    [
        (
            "subject",
            "/v1/me/objections",
            b'{"source":"bank","record_id":"d\\u0000","reason":"r"}',
            "control character",
        ),
        (
            "subject",
            "/v1/me/objections",
            b'{"source":"bank","record_id":"d1","reason":"\\ud800"}',
            "surrogate",
        ),
        (
            "subject",
            "/v1/me/objections",
            b'{"source":"bank","source":"x","record_id":"d1","reason":"r"}',
            "given twice",
        ),
        ("operator", "/v1/keys", b'{"role":"source","name":"a\\u0000"}', "control character"),
        ("source", "/v1/records", b'{"records":[{"record_id":"r1"}]}\xff', "not UTF-8"),
        (
            "source",
            "/v1/records",
            b'{"records":[{"attrs":{"amount":NaN}}]}',
            "expected a JSON value",
        ),
        ("source", "/v1/records", b'{"records":[{"attrs":{"amount":1e400}}]}', "infinity"),
        (
            "source",
            "/v1/records",
            b'{"records":[{"attrs":{"amount":18446744073709551616}}]}',
            "outside 64 bits",
        ),
        ("source", "/v1/records", b'{"records":[{"code":"a","code":"b"}]}', "given twice"),
        ("source", "/v1/records", b'{"records":[{"evidence":"\\u0000"}]}', "control character"),
    ],
)
def test_json_that_means_different_things_to_different_readers_is_refused(
    service: Service, role: str, path: str, body: bytes, reason: str
) -> None:
    answer = _json(service, role, path, body)
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["detail"]
    assert problem["type"] == "json_invalid"
    assert reason in problem["ctx"]["error"]
    with service.engine.connect() as conn:  # nothing of a refused body was kept
        assert conn.exec_driver_sql("SELECT count(*) FROM records").scalar() == 0


def test_a_form_with_a_nul_is_answered_not_failed(ledger_url: str, tmp_path: Path) -> None:
    portal: Portal = seed_portal(ledger_url, tmp_path)

    async def run() -> list[int]:
        async with portal.service.client() as client:
            assert (await sign_in(client, portal.tokens["subject"])).status_code == 303
            csrf = form_token((await client.get("/me")).text)
            statuses = []
            for record, reason in (("bank/d1", "a\x00b"), ("bank/d\x001", "why"), ("\x00", "x")):
                posted = await client.post(
                    "/me/objections", data={"csrf": csrf, "record": record, "reason": reason}
                )
                statuses.append(posted.status_code)
            return statuses

    assert _run(run()) == [422, 422, 422]
    portal.service.engine.dispose()


def _small_app(tmp_path: Path, **settings: Any) -> Any:
    engine = open_database(f"sqlite:///{tmp_path / 'ledger.db'}")
    return create_app(engine, settings=ServiceSettings(**settings)), engine


def test_a_body_too_large_is_refused_before_it_is_read_or_authorised(tmp_path: Path) -> None:
    app, engine = _small_app(tmp_path, max_body_bytes=1_000, ingest_process=False)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            big = await client.post("/v1/records", content=b"x" * 5_000)  # no key at all

            async def parts() -> AsyncIterator[bytes]:
                yield b"x" * 600
                yield b"x" * 600

            chunks = await client.post("/v1/keys", content=parts())  # chunked, no length
            small = await client.post("/v1/records", content=b"{}")
            return [big.status_code, chunks.status_code, small.status_code]

    assert _run(run()) == [413, 413, 401]
    engine.dispose()


def test_a_body_that_never_arrives_times_out(tmp_path: Path) -> None:
    app, engine = _small_app(tmp_path, body_seconds=0.2, ingest_process=False)
    with engine.begin() as conn:
        token = create_key(conn, Role.SOURCE, "bank").token
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/records",
        "raw_path": b"/v1/records",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    sent: list[dict[str, Any]] = []
    parts = [{"type": "http.request", "body": b'{"records":', "more_body": True}]

    async def receive() -> dict[str, Any]:
        if parts:
            return parts.pop()
        await asyncio.sleep(3600)  # the rest never comes
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await asyncio.wait_for(app(scope, receive, send), 10)

    _run(run())
    assert sent[0]["status"] == 408
    engine.dispose()


def test_a_predicate_nested_thousands_deep_is_a_lint_error_not_a_crash(
    service: Service, tmp_path: Path
) -> None:
    text = SCHEME.read_text(encoding="utf-8")
    deep = re.sub(r"^when = .*$", DEEP, text, count=1, flags=re.MULTILINE)
    assert deep != text
    answer = _run(
        _statuses(
            service,
            [
                (
                    "POST",
                    "/v1/schemes",
                    {
                        "content": deep,
                        "headers": {
                            **service.headers("operator"),
                            "content-type": "application/toml",
                        },
                    },
                )
            ],
        )
    )
    assert answer == [422]
    path = tmp_path / "deep.toml"
    path.write_text(deep, encoding="utf-8")
    linted = runner.invoke(cli, ["lint", str(path)])
    assert linted.exit_code != 0
    assert "nested more than 32 levels deep" in linted.output
    assert "Traceback" not in linted.output
    nested = tmp_path / "nested.toml"
    nested.write_text("x = " + "[" * 3000 + "]" * 3000 + "\n" + text, encoding="utf-8")
    linted = runner.invoke(cli, ["lint", str(nested)])
    assert linted.exit_code != 0
    assert "nested too deeply" in linted.output


def test_api_documentation_is_served_from_the_package(service: Service) -> None:
    async def run() -> dict[str, httpx.Response]:
        async with service.client() as client:
            pages = {path: await client.get(path) for path in ("/docs", "/redoc")}
            for page in list(pages.values()):
                for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
                    pages[asset] = await client.get(asset)
            return pages

    pages = _run(run())
    assert len(pages) >= 6
    for path, page in pages.items():
        assert page.status_code == 200, path
        assert path.startswith("/"), path  # nothing from another origin
    for path in ("/docs", "/redoc"):
        policy = pages[path].headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self';" in policy
        assert "<script>" not in pages[path].text  # no inline script


# ---------------------------------------------------------------- every public route, fuzzed

HOSTILE_TEXT = st.one_of(
    st.binary(max_size=40).map(lambda raw: quote_from_bytes(raw, safe="")),
    st.integers(min_value=-(2**90), max_value=2**90).map(str),
    st.sampled_from(["%00", "a%00b", "%ff", "%ed%a0%80", "-1", "0", "1e400", "NaN", "%0a", ".."]),
    st.text(max_size=30).map(lambda text: quote_from_bytes(text.encode("utf-8", "replace"))),
)
"""Already percent-encoded: raw bytes, huge and negative integers, NULs, broken UTF-8."""


def _flat(routes: list[Any]) -> Iterator[Any]:
    """Routes, with those of included routers (FastAPI keeps an included router whole)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _flat(included.routes)
        else:
            yield route


def _public_routes(service: Service) -> list[tuple[str, list[str]]]:
    """(path template, query parameter names) of every GET route the public may call."""
    described = service.app.openapi()["paths"]
    routes = []
    for route in _flat(service.app.routes):
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        spec = described.get(route.path, {}).get("get", {})
        if route.include_in_schema and "public" not in spec.get(ROLE_KEY, []):
            continue
        names = [param.alias for param in route.dependant.query_params]
        routes.append((route.path, names))
    return routes


def test_no_public_route_answers_5xx_to_hostile_values(service: Service) -> None:
    routes = _public_routes(service)
    assert len(routes) > 10
    sent = 0

    async def call(url: str) -> int:
        async with service.client() as client:
            return (await client.get(url)).status_code

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        nonlocal sent
        path, names = data.draw(st.sampled_from(routes))
        url = re.sub(r"\{[^}]+\}", lambda _: data.draw(HOSTILE_TEXT) or "x", path)
        query = "&".join(f"{name}={data.draw(HOSTILE_TEXT)}" for name in names)
        url += f"?{query}" if query else ""
        status = _run(call(url))
        sent += 1
        assert status < 500, (url, status)

    fuzz()
    print(f"{sent} hostile requests to {len(routes)} public routes, 0 answered 5xx")


FORMS = {
    "/me/objections": ("subject", ["record", "reason", "evidence"]),
    "/me/repairs": ("subject", ["record", "reason"]),
    "/console/objections/{id}/decision": ("operator", ["decision", "reason"]),
    "/console/repairs/{id}/decision": ("operator", ["decision", "reason"]),
    "/login": ("anonymous", ["token", "login_token", "next"]),
}
"""The portal's forms: who posts them and their fields (beside the CSRF token)."""


def test_no_portal_form_answers_5xx_to_hostile_values(ledger_url: str, tmp_path: Path) -> None:
    portal = seed_portal(ledger_url, tmp_path)
    sent = 0

    async def post(role: str, path: str, fields: dict[str, str]) -> int:
        async with portal.service.client() as client:
            if role != "anonymous":
                assert (await sign_in(client, portal.tokens[role])).status_code == 303
                home = "/me" if role == "subject" else "/console"
                fields = {"csrf": form_token((await client.get(home)).text), **fields}
            return (await client.post(path, data=fields)).status_code

    values = st.one_of(
        st.text(max_size=40),
        st.integers(-(2**90), 2**90).map(str),
        st.sampled_from(
            ["\x00", "bank/d1", "bank/\x00", "uphold", "reject", "/\\evil", "0" * 6000]
        ),
    )

    @settings(
        max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        nonlocal sent
        path, (role, names) = data.draw(st.sampled_from(sorted(FORMS.items())))
        path = path.replace("{id}", data.draw(st.sampled_from(["x", "%00", "0" * 300])))
        fields = {name: data.draw(values) for name in names}
        status = _run(post(role, path, fields))
        sent += 1
        assert status < 500, (path, fields, status)

    fuzz()
    portal.service.engine.dispose()
    print(f"{sent} hostile form posts, 0 answered 5xx")


def test_a_scheme_with_control_characters_is_refused(service: Service) -> None:
    text = SCHEME.read_text(encoding="utf-8")
    nul = text.replace('name = "', 'name = "X\\u0000 ', 1)
    bell = text.replace('id = "court"', 'id = "court"\ndescription = "a\\u0007"', 1)
    operator = {**service.headers("operator"), "content-type": "application/toml"}
    statuses = _run(
        _statuses(
            service,
            [
                ("POST", "/v1/schemes", {"content": body, "headers": operator})
                for body in (nul, bell)
            ],
        )
    )
    assert statuses == [422, 422]
    with service.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM schemes").scalar() == 1


def test_a_check_refuses_control_characters_around_the_subject(service: Service) -> None:
    relying = {"headers": service.headers("relying")}
    statuses = _run(
        _statuses(
            service,
            [
                ("GET", "/v1/checks?subject=%1Fext:a%1F&measure=restrict-flights", relying),
                ("GET", "/v1/checks?subject=%C2%85ext:a&measure=restrict-flights", relying),
                ("GET", "/v1/checks?subject=00000420000208002&measure=restrict-flights", relying),
            ],
        )
    )
    assert statuses == [422, 422, 422]
