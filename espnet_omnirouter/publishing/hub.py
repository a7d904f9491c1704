"""Publish a packed model to the Hugging Face Hub, in the layout ESPnet's models use.

A Hub repo of an ESPnet model is its unpacked archive (``meta.yaml`` at the top, files at
their packed relative paths) plus a ``README.md`` model card; ``espnet_model_zoo`` downloads
such a repo with ``snapshot_download`` and rewrites the config's paths, so
``Speech2Text.from_pretrained("<user>/<repo>")`` works once ``espnet_omnirouter`` is imported.
"""

import shutil
from pathlib import Path
from typing import List, Optional, Protocol

import yaml
from espnet2.main_funcs.pack_funcs import Archiver

from espnet_omnirouter.publishing.model_card import experiment_card
from espnet_omnirouter.utils.extras import import_optional

HUB_URL = "https://huggingface.co"


class PublishError(RuntimeError):
    """The model cannot be published (no token, bad archive)."""


class HubClient(Protocol):
    """The part of ``huggingface_hub.HfApi`` that publishing uses."""

    def create_repo(self, repo_id: str, *, repo_type: str, private: bool, exist_ok: bool): ...

    def upload_folder(
        self, *, repo_id: str, folder_path: str, repo_type: str, commit_message: str
    ): ...


def unpack_archive(packed_model: Path, output_dir: Path) -> Path:
    """Extract every file of ``packed_model`` under ``output_dir``; the config's path."""
    try:
        with Archiver(packed_model) as archive:
            for info in archive:
                archive.extract(info, output_dir)
    except Exception as error:  # zipfile, tarfile and ESPnet's format check raise their own
        raise PublishError(f"cannot read the packed model {packed_model}: {error}") from error
    meta = output_dir / "meta.yaml"
    if not meta.is_file():
        raise PublishError(f"{packed_model} has no meta.yaml: not made by espnet2.bin.pack")
    return output_dir / yaml.safe_load(meta.read_text())["yaml_files"]["asr_train_config"]


def stage_upload(packed_model: Path, upload_dir: Path, repo_id: str) -> List[Path]:
    """Make ``upload_dir`` hold exactly the files of the Hub repo ``repo_id``: the unpacked
    archive and its model card. Built aside and renamed when complete.

    Returns:
        The files, relative to ``upload_dir``, sorted.
    """
    staging = upload_dir.with_name(upload_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    config_path = unpack_archive(packed_model, staging)
    card = experiment_card(config_path, repo_id.split("/")[-1], model_reference=repo_id)
    (staging / "README.md").write_text(card, encoding="utf-8")
    shutil.rmtree(upload_dir, ignore_errors=True)
    staging.rename(upload_dir)
    return sorted(p.relative_to(upload_dir) for p in upload_dir.rglob("*") if p.is_file())


def hub_client() -> HubClient:
    """An authenticated ``HfApi``: the token comes from ``HF_TOKEN`` or ``hf auth login``."""
    huggingface_hub = import_optional("huggingface_hub", "publishing to the Hugging Face Hub")
    token = huggingface_hub.get_token()
    if token is None:
        raise PublishError(
            "no Hugging Face token: set HF_TOKEN to a write token "
            f"({HUB_URL}/settings/tokens) or run `hf auth login`"
        )
    return huggingface_hub.HfApi(token=token)


def upload(
    upload_dir: Path,
    repo_id: str,
    client: Optional[HubClient] = None,
    private: bool = False,
    commit_message: str = "Upload ESPnet model (espnet_omnirouter)",
) -> str:
    """Create the model repo ``repo_id`` if needed and commit ``upload_dir`` to it.

    Returns:
        The URL of the repo.
    """
    client = client or hub_client()
    try:
        client.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        client.upload_folder(
            repo_id=repo_id,
            folder_path=str(upload_dir),
            repo_type="model",
            commit_message=commit_message,
        )
    except Exception as error:  # network, HTTP and permission errors of the Hub client
        raise PublishError(
            f"uploading {upload_dir} to {HUB_URL}/{repo_id} failed: {error}"
        ) from error
    return f"{HUB_URL}/{repo_id}"
