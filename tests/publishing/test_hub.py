"""Publishing: the files of the Hub repo, the upload through an injected client, errors."""

import zipfile
from pathlib import Path

import pytest

from espnet_omnirouter.publishing.hub import PublishError, hub_client, stage_upload, upload
from espnet_omnirouter.publishing.pack import pack_experiment


class RecordingHub:
    """Stands in for huggingface_hub.HfApi: records calls, keeps a copy of the upload."""

    def __init__(self, fail: bool = False):
        self.calls, self.fail = [], fail

    def create_repo(self, repo_id, *, repo_type, private, exist_ok):
        self.calls.append(("create_repo", repo_id, repo_type, private, exist_ok))
        if self.fail:
            raise ConnectionError("network unreachable")

    def upload_folder(self, *, repo_id, folder_path, repo_type, commit_message):
        files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*"))
        self.calls.append(("upload_folder", repo_id, repo_type, files))


def test_upload_dir_is_the_unpacked_archive_plus_the_card(experiment, tmp_path):
    archive = pack_experiment(
        experiment / "config.yaml", experiment / "valid.loss.ave.pth", tmp_path / "m.zip"
    )
    files = stage_upload(archive, tmp_path / "upload", "me/tiny_omni")
    members = set(zipfile.ZipFile(archive).namelist())
    assert {str(f) for f in files} == members | {"README.md"}
    card = (tmp_path / "upload" / "README.md").read_text()
    assert "# tiny_omni" in card and 'from_pretrained("me/tiny_omni")' in card
    assert not (tmp_path / "upload.tmp").exists()


def test_upload_creates_the_repo_then_commits_the_dir(tmp_path):
    (tmp_path / "README.md").write_text("card")
    (tmp_path / "meta.yaml").write_text("files: {}")
    hub = RecordingHub()
    url = upload(tmp_path, "me/tiny", client=hub, private=True)
    assert url == "https://huggingface.co/me/tiny"
    assert hub.calls == [
        ("create_repo", "me/tiny", "model", True, True),
        ("upload_folder", "me/tiny", "model", ["README.md", "meta.yaml"]),
    ]


def test_upload_failure_names_the_repo(tmp_path):
    with pytest.raises(PublishError, match="huggingface.co/me/tiny failed: network unreachable"):
        upload(tmp_path, "me/tiny", client=RecordingHub(fail=True))


def test_no_token_is_a_clear_error(monkeypatch, tmp_path):
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no_token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no_tokens"))
    with pytest.raises(PublishError, match="no Hugging Face token: set HF_TOKEN"):
        hub_client()


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_archives_not_made_by_pack_are_rejected(tmp_path, content):
    archive = tmp_path / "m.zip"
    if content is None:
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("valid.loss.ave.pth", b"")
    else:
        archive.write_bytes(content)
    with pytest.raises(PublishError, match="cannot read the packed model|has no meta.yaml"):
        stage_upload(archive, tmp_path / "upload", "me/tiny")
