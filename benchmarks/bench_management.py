"""Model management figures, measured side by side in one run.

1. Quantisation through ``/api/create`` (``quantize``) against
   ``llama_model_quantize`` called in-process on the same F16 GGUF: seconds,
   resulting sizes, and the server's overhead ratio (hashing, renaming, progress).
2. Pull throughput from the mock in registry mode (MB/s through ``/api/pull``:
   HTTP, partial file, SHA-256 verification, rename) against a plain file copy
   of the same blob on this machine (``shutil.copyfile``), and their ratio.

The reference server runs as a subprocess (``python -m realserver.server``) so
that it does not share a GIL with the mock it pulls from.

    python benchmarks/bench_management.py [--hidden 1024 --blocks 8] [--blob-mb 256]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ollama_harness.core.names import parse_model_name
from ollama_harness.mockserver.store import RegistryRepo, repo_key
from ollama_harness.mockserver.testing import MockServer
from tests.realserver_mgmt.tiny_gguf import write_tiny_llama

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def start_server(root: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
    env.update(OLLAMA_MODELS=str(root), OLLAMA_HOST="127.0.0.1:0", OLLAMA_NUM_THREAD="2")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ollama_harness.realserver.server"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if "listening on " in line:
                return process, line.split("listening on ", 1)[1].strip()
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(log.read_text(errors="replace")[-3000:])


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def bench_quantize(client: httpx.Client, work: Path, hidden: int, blocks: int) -> None:
    import llama_cpp

    source = write_tiny_llama(work / "f16.gguf", hidden=hidden, ffn=hidden * 11 // 4, blocks=blocks)
    data = source.read_bytes()
    digest = sha256_digest(data)
    client.post(f"/api/blobs/{digest}", content=data).raise_for_status()
    print(f"F16 source: {len(data) / 1e6:.1f} MB (hidden {hidden}, {blocks} blocks)")
    print(f"{'type':<8} {'api s':>7} {'direct s':>9} {'ratio':>6} {'size MB':>8} {'of F16':>7}")
    for quant in ("q8_0", "q4_K_M"):
        started = time.perf_counter()
        response = client.post(
            "/api/create",
            json={"model": f"bench-{quant}", "files": {"m.gguf": digest}, "quantize": quant},
        )
        api_seconds = time.perf_counter() - started
        last = json.loads(response.text.splitlines()[-1])
        if last != {"status": "success"}:
            raise RuntimeError(f"create failed: {last}")
        shown = client.post("/api/show", json={"model": f"bench-{quant}"}).json()
        tags = {m["name"]: m for m in client.get("/api/tags").json()["models"]}
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant.upper()}")
        params.nthread = 2
        target = work / f"direct-{quant}.gguf"
        started = time.perf_counter()
        code = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params)
        direct_seconds = time.perf_counter() - started
        assert code == 0
        size = target.stat().st_size
        level = shown["details"]["quantization_level"]
        assert tags[f"bench-{quant}:latest"]["details"]["quantization_level"] == level
        print(
            f"{level:<8} {api_seconds:7.2f} {direct_seconds:9.2f} "
            f"{api_seconds / direct_seconds:6.2f} {size / 1e6:8.1f} {size / len(data):7.1%}"
        )


def bench_pull(client: httpx.Client, work: Path, blob_mb: int) -> None:
    blob = os.urandom(blob_mb << 20)
    path = work / "blob.bin"
    path.write_bytes(blob)
    config = b'{"model_format":"gguf"}'
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.ollama.image.model",
                    "digest": sha256_digest(blob),
                    "size": len(blob),
                }
            ],
        }
    ).encode()
    with MockServer(blob_size=4096) as mock:
        store = mock.state.store
        store.blobs.put(blob)
        store.blobs.put(config)
        host = mock.url.removeprefix("http://")
        name = f"{host}/library/bench-pull:latest"
        store.registry[repo_key(parse_model_name(name))] = RegistryRepo(manifest, None)
        rates = []
        for _ in range(3):
            client.request("DELETE", "/api/delete", json={"model": name})
            started = time.perf_counter()
            response = client.post("/api/pull", json={"model": name, "insecure": True})
            seconds = time.perf_counter() - started
            if json.loads(response.text.splitlines()[-1]) != {"status": "success"}:
                raise RuntimeError(response.text[-500:])
            rates.append(len(blob) / seconds / 1e6)
    copies = []
    for index in range(3):
        target = work / f"copy-{index}.bin"
        started = time.perf_counter()
        shutil.copyfile(path, target)
        with target.open("rb") as handle:
            os.fsync(handle.fileno())  # the pull fsyncs its blob too
        copies.append(len(blob) / (time.perf_counter() - started) / 1e6)
        target.unlink()
    pull, copy = max(rates), max(copies)
    print(f"pull of a {blob_mb} MiB layer from the mock registry: {pull:.0f} MB/s (best of 3)")
    print(f"plain file copy of the same blob:                 {copy:.0f} MB/s (best of 3)")
    print(f"pull / copy ratio: {pull / copy:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024, help="hidden size of the F16 model")
    parser.add_argument("--blocks", type=int, default=8, help="transformer blocks")
    parser.add_argument("--blob-mb", type=int, default=256, help="size of the pulled layer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mgmt-") as tmp:
        work = Path(tmp)
        process, url = start_server(work / "models", work / "server.log")
        try:
            with httpx.Client(base_url=url, timeout=600) as client:
                bench_quantize(client, work, args.hidden, args.blocks)
                bench_pull(client, work, args.blob_mb)
        finally:
            process.terminate()
            process.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
