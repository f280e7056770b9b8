"""Model management: create, show, copy, delete, blobs, pull and push.

Every model a check creates is named under the run's unique prefix and deleted
in a ``finally`` block, so a failing check leaves nothing behind and nothing
the suite did not create is ever touched. Blobs cannot be deleted through the
API; the few tiny ones uploaded here are unreferenced and pruned by the server.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ollama_harness.conformance import expect
from ollama_harness.conformance.outcome import CheckSkipped
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.target import Target, model_key

SYSTEM = "You are the conformance suite's test model."
TEMPLATE = "{{ .System }} {{ .Prompt }}"


@contextmanager
def owned(t: Target) -> Iterator[list[str]]:
    """Names created inside are deleted on the way out, whatever happened."""
    names: list[str] = []
    try:
        yield names
    finally:
        for name in names:
            if name.startswith(t.prefix) or f"/{t.prefix}" in name:
                t.client.request("DELETE", "/api/delete", {"model": name})


def _create(t: Target, names: list[str], suffix: str, **fields: Any) -> tuple[str, list[Any]]:
    name = t.new_model_name(suffix)
    names.append(name)
    ex = t.client.post("/api/create", {"model": name, **fields}, timeout=300)
    return name, expect.ndjson_lines(ex, "create", final_key="status")


def _listed(t: Target) -> set[str]:
    body = expect.json_body(t.client.get("/api/tags"), "listModels")
    return {model_key(m["name"]) for m in body.get("models", [])}


@check("lifecycle", "create")
def create_from_model(t: Target) -> None:
    """create from a model streams valid status lines ending in success; tags lists it.

    Source: server/create.go CreateHandler (progress lines ending in status success;
    stream false answers one object); server/routes_create_test.go TestCreateFromModel;
    docs/api.md "Create a Model".
    """
    base = t.model_with("completion")
    with owned(t) as names:
        name, lines = _create(t, names, "from", **{"from": base})
        statuses = [line.get("status", "") for line in lines]
        if (
            "writing manifest" not in statuses
            or statuses.index("writing manifest") > len(lines) - 2
        ):
            raise expect.fail(f"create statuses out of order: {statuses}", t.client.history[-1])
        if model_key(name) not in _listed(t):
            raise expect.fail(
                f"{name} created but /api/tags does not list it", t.client.history[-1]
            )
        quiet = t.new_model_name("quiet")
        names.append(quiet)
        ex = t.client.post("/api/create", {"model": quiet, "from": base, "stream": False})
        if expect.json_body(ex, "create").get("status") != "success":
            raise expect.fail("create with stream false did not answer status success", ex)


@check("lifecycle", "show")
def show_reflects_create(t: Target) -> None:
    """show of a created model gives back its system, template and parameters.

    Source: server/create.go CreateHandler (system, template, parameters layers) and
    server/routes.go GetModelInfo; server/routes_create_test.go TestCreateTemplateSystem
    and TestCreateMergeParameters.
    """
    base = t.model_with("completion")
    with owned(t) as names:
        params = {"temperature": 0.25, "stop": ["<END>"]}
        name, _ = _create(
            t, names, "show", system=SYSTEM, template=TEMPLATE, parameters=params, **{"from": base}
        )
        ex = t.client.post("/api/show", {"model": name})
        body = expect.json_body(ex, "show")
        if body.get("system") != SYSTEM:
            raise expect.fail(f"system {body.get('system')!r}, created with {SYSTEM!r}", ex)
        if body.get("template") != TEMPLATE:
            raise expect.fail(f"template {body.get('template')!r}, created with {TEMPLATE!r}", ex)
        parameters = str(body.get("parameters", ""))
        for word in ("temperature", "0.25", "stop", "<END>"):
            if word not in parameters:
                raise expect.fail(f"parameters do not mention {word!r}: {parameters!r}", ex)


@check("lifecycle", "copy")
def copy_model(t: Target) -> None:
    """copy gives a second name for the model; both are listed and shown alike.

    Source: server/routes.go CopyHandler (CopyModel); docs/api.md "Copy a Model".
    """
    base = t.model_with("completion")
    with owned(t) as names:
        source, _ = _create(t, names, "src", system=SYSTEM, **{"from": base})
        destination = t.new_model_name("dst")
        names.append(destination)
        ex = t.client.post("/api/copy", {"source": source, "destination": destination})
        expect.status(ex, 200)
        listed = _listed(t)
        for name in (source, destination):
            if model_key(name) not in listed:
                raise expect.fail(f"after copy /api/tags does not list {name}", ex)
        shown = expect.json_body(t.client.post("/api/show", {"model": destination}), "show")
        if shown.get("system") != SYSTEM:
            raise expect.fail("the copy does not carry the source's system", t.client.history[-1])


@check("lifecycle", "delete")
def delete_model(t: Target) -> None:
    """delete removes the model: show 404, tags no longer lists it, a second delete 404.

    Source: server/routes.go DeleteHandler (then 404 "model '%s' not found");
    server/routes_delete_test.go TestDelete.
    """
    base = t.model_with("completion")
    with owned(t) as names:
        name, _ = _create(t, names, "del", **{"from": base})
        ex = t.client.request("DELETE", "/api/delete", {"model": name})
        expect.status(ex, 200)
        expect.error_body(t.client.post("/api/show", {"model": name}), "show", 404)
        if model_key(name) in _listed(t):
            raise expect.fail(f"{name} deleted but still listed", t.client.history[-1])
        ex = t.client.request("DELETE", "/api/delete", {"model": name})
        expect.error_body(ex, "delete", 404, f"model '{name}' not found")


@check("lifecycle", "create")
def create_needs_from_or_files(t: Target) -> None:
    """create without from or files: 400 neither 'from' or 'files' was specified.

    Source: server/create.go CreateHandler (400 "neither 'from' or 'files' was
    specified"); wording recommended.
    """
    ex = t.client.post("/api/create", {"model": t.new_model_name("empty"), "stream": False})
    expect.error_body(ex, "create", 400, "neither 'from' or 'files' was specified")


@check("lifecycle", "create")
def create_file_path_must_be_relative(t: Target) -> None:
    """create with an absolute or escaping file path: 400 file path must be relative.

    Source: server/create.go CreateHandler (400 "file path must be relative" for
    absolute or escaping paths); wording recommended.
    """
    digest = "sha256:" + "0" * 64

    def one(path: str) -> None:
        body = {"model": t.new_model_name("abs"), "files": {path: digest}, "stream": False}
        ex = t.client.post("/api/create", body)
        expect.error_body(ex, "create", 400, "file path must be relative")

    expect.each("file paths", ("/etc/passwd", "../outside.gguf"), one)


def tiny_gguf() -> bytes:
    """A GGUF v3 header with one metadata key and no tensors, unique per call."""

    def text(value: str) -> bytes:
        data = value.encode()
        return struct.pack("<Q", len(data)) + data

    pairs = [("general.architecture", "llama"), ("general.name", secrets.token_hex(8))]
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(pairs))
    for key, value in pairs:
        out += text(key) + struct.pack("<I", 8) + text(value)
    return out


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@check("lifecycle", "createBlob")
def blobs_head_and_post(t: Target) -> None:
    """blobs: HEAD missing 404; POST wrong digest 400; POST 201 then 200; HEAD 200.

    Source: server/routes.go HeadBlobHandler (404 when missing) and CreateBlobHandler
    (400 "digest mismatch, expected %q, got %q", 201 created, 200 present); docs/api.md
    "Push a Blob".
    """
    data = tiny_gguf()
    digest = _digest(data)
    expect.status(t.client.request("HEAD", f"/api/blobs/{digest}"), 404)
    wrong = _digest(data + b"x")
    ex = t.client.request("POST", f"/api/blobs/{wrong}", content=data)
    expect.error_body(ex, "createBlob", 400, f'digest mismatch, expected "{wrong}", got "{digest}"')
    expect.status(t.client.request("POST", f"/api/blobs/{digest}", content=data), 201)
    expect.status(t.client.request("POST", f"/api/blobs/{digest}", content=data), 200)
    expect.status(t.client.request("HEAD", f"/api/blobs/{digest}"), 200)


@check("lifecycle", "headBlob")
def blobs_invalid_digest(t: Target) -> None:
    """blobs with a malformed digest: 400 invalid digest format.

    Source: server/routes.go CreateBlobHandler (manifest.BlobsPath's error: 400
    "invalid digest format"); wording recommended.
    """

    def one(digest: str) -> None:
        ex = t.client.request("POST", f"/api/blobs/{digest}", content=b"data")
        expect.error_body(ex, "createBlob", 400, "invalid digest format")

    expect.each("malformed digests", ("sha256:xyz", "md5:" + "0" * 32), one)


@check("lifecycle", "create")
def create_from_blob(t: Target) -> None:
    """create from an uploaded blob (files) succeeds and shows up in tags.

    Source: server/create.go CreateHandler (files: digests of uploaded blobs);
    docs/api.md "Create a Model".
    """
    data = tiny_gguf()
    digest = _digest(data)
    ex = t.client.request("POST", f"/api/blobs/{digest}", content=data)
    expect.status(ex, 200, 201)
    with owned(t) as names:
        name, _ = _create(t, names, "blob", files={"model.gguf": digest})
        if model_key(name) not in _listed(t):
            raise expect.fail(f"{name} created from a blob but not listed", t.client.history[-1])


# -- registry --
def _registry_host(t: Target) -> str:
    if not t.options.registry:
        raise CheckSkipped("no --registry given (a registry, e.g. the mock in registry mode)")
    return t.options.registry.split("://", 1)[-1].rstrip("/")


def _progress_ok(lines: list[Any], first: str, before_success: str) -> str | None:
    """Why a pull/push progress stream is out of order, or None."""
    statuses = [line.get("status", "") for line in lines]
    if not statuses or statuses[0] != first:
        return f"first status {statuses[:1]}, expected {first!r}"
    if before_success not in statuses or statuses.index(before_success) > len(statuses) - 2:
        return f"{before_success!r} missing or not before success: {statuses}"
    finished: dict[str, int] = {}
    for line in lines:
        if "digest" in line and "total" in line:
            completed, total = line.get("completed", 0), line["total"]
            if completed > total or completed < finished.get(line["digest"], 0):
                return f"layer progress goes backwards or past total: {line}"
            finished[line["digest"]] = completed
    return None


@check("lifecycle", "push")
def push_and_pull_registry(t: Target) -> None:
    """push then pull through --registry: progress in order, byte counts reach totals.

    Source: server/routes.go PushHandler and PullHandler (progress in order, completed
    reaching total, "verifying sha256 digest", "writing manifest", "success");
    docs/api.md "Pull a Model" and "Push a Model".
    """
    host = _registry_host(t)
    base = t.model_with("completion")
    remote = f"{host}/conformance/{t.prefix}-reg:latest"
    with owned(t) as names:
        names.append(remote)
        ex = t.client.post("/api/copy", {"source": base, "destination": remote})
        expect.status(ex, 200)
        ex = t.client.post("/api/push", {"model": remote, "insecure": True}, timeout=600)
        lines = expect.ndjson_lines(ex, "push", final_key="status")
        problem = _progress_ok(lines, "retrieving manifest", "pushing manifest")
        if problem:
            raise expect.fail(f"push: {problem}", ex)
        t.client.request("DELETE", "/api/delete", {"model": remote})
        ex = t.client.post("/api/pull", {"model": remote, "insecure": True}, timeout=600)
        lines = expect.ndjson_lines(ex, "pull", final_key="status")
        problem = _progress_ok(lines, "pulling manifest", "writing manifest")
        if problem:
            raise expect.fail(f"pull: {problem}", ex)
        statuses = [line.get("status") for line in lines]
        if "verifying sha256 digest" not in statuses:
            raise expect.fail("pull never verified the digest", ex)
        layers = [line for line in lines if "total" in line and "digest" in line]
        if not layers or any(
            max(x.get("completed", 0) for x in layers if x["digest"] == d["digest"]) != d["total"]
            for d in layers
        ):
            raise expect.fail("pulled layers do not reach their total bytes", ex)
        expect.json_body(t.client.post("/api/show", {"model": remote}), "show")
