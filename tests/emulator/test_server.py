"""The emulator core: routing by original host, faults, the request log."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.emulator import Emulator, Fault, Reply


def get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


@pytest.fixture
def emu() -> Emulator:
    with Emulator() as server:
        server.route("api.example.com", "/v1/items", lambda q, f: Reply([1, 2, 3]))
        yield server


def test_routes_by_original_host(emu: Emulator) -> None:
    status, body, _ = get(f"{emu.base_url}/api.example.com/v1/items?x=1")
    assert (status, json.loads(body)) == (200, [1, 2, 3])
    assert emu.log[-1].query == {"x": "1"}
    status, _, _ = get(f"{emu.base_url}/other.example.com/v1/items")
    assert status == 404


@pytest.mark.parametrize("kind", ["429", "418", "451", "500", "502", "503"])
def test_status_faults_hit_once(emu: Emulator, kind: str) -> None:
    emu.inject(Fault(kind, match="items", retry_after=3))  # type: ignore[arg-type]
    status, _, headers = get(f"{emu.base_url}/api.example.com/v1/items")
    assert status == int(kind)
    if kind in ("429", "418"):
        assert headers["Retry-After"] == "3"
    assert get(f"{emu.base_url}/api.example.com/v1/items")[0] == 200
    assert not emu.pending_faults()


def test_body_faults(emu: Emulator) -> None:
    emu.inject(Fault("truncated"), Fault("invalid"))
    _, first, _ = get(f"{emu.base_url}/api.example.com/v1/items")
    _, second, _ = get(f"{emu.base_url}/api.example.com/v1/items")
    for body in (first, second):
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
