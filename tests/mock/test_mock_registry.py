"""Registry mode (/v2) and the pull / push progress streams that speak it."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ollama_harness.core.spec import Spec
from ollama_harness.mockserver.testing import MockServer

from .conftest import ndjson


def _manifest(http: httpx.Client, repo: str, tag: str) -> dict:  # type: ignore[type-arg]
    response = http.get(f"/v2/{repo}/manifests/{tag}")
    assert response.status_code == 200
    assert (
        response.headers["content-type"] == "application/vnd.docker.distribution.manifest.v2+json"
    )
    digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
    assert response.headers["docker-content-digest"] == digest
    return json.loads(response.content)  # type: ignore[no-any-return]


def test_manifests_and_blobs(http: httpx.Client) -> None:
    assert http.get("/v2/").status_code == 200
    manifest = _manifest(http, "library/smollm2", "135m")
    assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    kinds = [layer["mediaType"].rsplit(".", 1)[-1] for layer in manifest["layers"]]
    assert kinds[0] == "model" and {"template", "system", "params", "license"} <= set(kinds)
    for layer in [manifest["config"], *manifest["layers"]]:
        blob = http.get(f"/v2/library/smollm2/blobs/{layer['digest']}")
        assert blob.status_code == 200 and len(blob.content) == layer["size"]
        assert "sha256:" + hashlib.sha256(blob.content).hexdigest() == layer["digest"]
    head = http.head(f"/v2/library/smollm2/blobs/{manifest['layers'][0]['digest']}")
    assert (
        head.status_code == 200
        and int(head.headers["content-length"]) == manifest["layers"][0]["size"]
    )
    assert http.head("/v2/library/smollm2/manifests/135m").status_code == 200
    # A registry-only model is served too (that is what /api/pull fetches).
    assert _manifest(http, "library/snowflake-arctic-embed", "22m")["layers"]
    missing = http.get("/v2/library/nosuch/manifests/latest")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    absent = http.get("/v2/library/smollm2/blobs/sha256:" + "0" * 64)
    assert absent.status_code == 404 and absent.json()["errors"][0]["code"] == "BLOB_UNKNOWN"


def test_range_requests_resume_a_download(http: httpx.Client) -> None:
    layer = _manifest(http, "library/smollm2", "135m")["layers"][0]
    url = f"/v2/library/smollm2/blobs/{layer['digest']}"
    full = http.get(url).content
    first = http.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-99/{len(full)}"
    rest = http.get(url, headers={"Range": "bytes=100-"})
    assert rest.status_code == 206 and first.content + rest.content == full
    tail = http.get(url, headers={"Range": "bytes=-10"})
    assert tail.content == full[-10:]
    bad = http.get(url, headers={"Range": f"bytes={len(full)}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{len(full)}"


def test_chunked_upload_then_manifest(http: httpx.Client) -> None:
    data = b"layer-bytes " * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = http.post("/v2/me/thing/blobs/uploads/")
    assert started.status_code == 202
    location = started.headers["location"]
    patched = http.patch(location, content=data[:5000])
    assert patched.status_code == 202 and patched.headers["range"] == "0-4999"
    done = http.put(f"{location}?digest={digest}", content=data[5000:])
    assert done.status_code == 201 and done.headers["docker-content-digest"] == digest
    assert http.get(f"/v2/me/thing/blobs/{digest}").content == data

    wrong = http.post("/v2/me/thing/blobs/uploads/")
    bad = http.put(f"{wrong.headers['location']}?digest=sha256:{'0' * 64}", content=b"x")
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert http.patch("/v2/me/thing/blobs/uploads/ffff").status_code == 404

    config = json.dumps({"model_family": "llama", "model_type": "1B", "file_type": "Q4_0"}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    monolithic = http.post(f"/v2/me/thing/blobs/uploads/?digest={config_digest}", content=config)
    assert monolithic.status_code == 201
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": len(data)}
        ],
    }
    put = http.put("/v2/me/thing/manifests/v1", content=json.dumps(manifest))
    assert put.status_code == 201
    assert _manifest(http, "me/thing", "v1")["layers"][0]["digest"] == digest
    # What was pushed over /v2 can be pulled with /api/pull.
    assert ndjson(http.post("/api/pull", json={"model": "me/thing:v1"}))[-1] == {
        "status": "success"
    }
    assert (
        http.post("/api/show", json={"model": "me/thing:v1"}).json()["details"]["family"] == "llama"
    )
    manifest["layers"][0]["digest"] = "sha256:" + "3" * 64
    unknown = http.put("/v2/me/thing/manifests/v2", content=json.dumps(manifest))
    assert unknown.status_code == 400


def test_pull_progress_adds_up(http: httpx.Client, spec: Spec) -> None:
    lines = ndjson(http.post("/api/pull", json={"model": "snowflake-arctic-embed:22m"}))
    for line in lines:
        assert spec.validate_stream_line("pull", line) == []
    statuses = [line["status"] for line in lines]
    assert statuses[0] == "pulling manifest"
    assert statuses[-4:] == [
        "verifying sha256 digest",
        "writing manifest",
        "removing unused layers",
        "success",
    ]
    manifest = _manifest(http, "library/snowflake-arctic-embed", "22m")
    expected = {
        layer["digest"]: layer["size"] for layer in [manifest["config"], *manifest["layers"]]
    }
    progress: dict[str, list[int]] = defaultdict(list)
    for line in lines:
        if "digest" in line:
            assert line["status"] == f"pulling {line['digest'][7:19]}"
            assert line["total"] == expected[line["digest"]]
            progress[line["digest"]].append(line["completed"])
    assert set(progress) == set(expected)
    for digest, completed in progress.items():
        assert completed == sorted(completed) and completed[-1] == expected[digest]
    tags = {m["name"]: m for m in http.get("/api/tags").json()["models"]}
    assert tags["snowflake-arctic-embed:22m"]["size"] == sum(expected.values())
    # Pulling again: every layer is already here.
    again = ndjson(http.post("/api/pull", json={"name": "snowflake-arctic-embed:22m"}))
    assert all(line["completed"] == line["total"] for line in again if "digest" in line)


def test_push_then_pull_round_trip(http: httpx.Client, spec: Spec) -> None:
    http.post("/api/create", json={"model": "me/custom", "from": "smollm2:135m", "system": "Hi!"})
    lines = ndjson(http.post("/api/push", json={"model": "me/custom"}))
    for line in lines:
        assert spec.validate_stream_line("push", line) == []
    statuses = [line["status"] for line in lines]
    assert statuses[0] == "retrieving manifest"
    assert statuses[-2:] == ["pushing manifest", "success"]
    assert any(s.startswith("pushing ") and s != "pushing manifest" for s in statuses)
    assert _manifest(http, "me/custom", "latest")
    http.request("DELETE", "/api/delete", json={"model": "me/custom"})
    assert ndjson(http.post("/api/pull", json={"model": "me/custom"}))[-1] == {"status": "success"}
    assert http.post("/api/show", json={"model": "me/custom"}).json()["system"] == "Hi!"
    missing = ndjson(http.post("/api/push", json={"model": "me/nothing"}))
    assert set(missing[-1]) == {"error"}


def test_blob_size_is_configurable() -> None:
    with MockServer(blob_size=4096) as mock, httpx.Client(base_url=mock.url) as http:
        manifest = _manifest(http, "library/smollm2", "135m")
        assert manifest["layers"][0]["size"] == 4096


def test_parallel_parts_with_content_range(http: httpx.Client) -> None:
    data = bytes(range(256)) * 40
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = http.post("/v2/me/parts/blobs/uploads/").headers["location"]
    half = len(data) // 2
    # The second half arrives first, as parallel uploads may do.
    second = http.patch(
        location, content=data[half:], headers={"Content-Range": f"{half}-{len(data) - 1}"}
    )
    assert second.status_code == 202
    assert http.patch(location, content=data[:half], headers={"Content-Range": f"0-{half - 1}"})
    assert http.put(f"{location}?digest={digest}").status_code == 201


_SEGMENT = st.sampled_from(
    [
        "library",
        "smollm2",
        "135m",
        "latest",
        "manifests",
        "blobs",
        "uploads",
        "",
        "..",
        "%00",
        "sha256:" + "a" * 64,
        "sha256:zz",
        "x" * 90,
        "UPPER",
        "me",
    ]
)


_REQUESTS = st.tuples(
    st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"]),
    st.lists(_SEGMENT, min_size=0, max_size=6),
    st.sampled_from(["", "?digest=sha256:" + "b" * 64, "?digest=nonsense", "?mount=x"]),
    st.binary(max_size=64),
    st.sampled_from([{}, {"Range": "bytes=5-1"}, {"Range": "bytes=x"}, {"Content-Range": "9-1"}]),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=_REQUESTS)
def test_registry_never_fails_with_500(
    http: httpx.Client, request: tuple[str, list[str], str, bytes, dict[str, str]]
) -> None:
    method, segments, query, body, headers = request
    path = "/v2/" + "/".join(segments) + query
    response = http.request(method, path, content=body or None, headers=headers)
    assert response.status_code < 500, (method, path, response.text)
    assert "Traceback" not in response.text
