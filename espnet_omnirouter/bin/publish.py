"""Publish a packed model to a Hugging Face Hub model repo.

Usage:
    HF_TOKEN=hf_... python -m espnet_omnirouter.bin.publish \
        --packed_model exp/asr_omni/packed/espeak_en_asr_omni.zip --hf_repo me/espeak_en_asr_omni
    python -m espnet_omnirouter.bin.publish --packed_model ... --hf_repo ... --dry_run

Builds --upload_dir (default: beside the archive, <archive name>_hf) with exactly the files
the repo gets: the unpacked archive in ESPnet's layout (meta.yaml at the top) and a model
card README.md that loads the model by its Hub id. Then creates the repo if needed and
uploads the dir in one commit; --dry_run stops after listing the files. The token comes from
HF_TOKEN or `hf auth login`.
"""

import argparse
import sys
from pathlib import Path

import espnet_omnirouter  # noqa: F401  (registers the plugin: the card counts parameters)
from espnet_omnirouter.publishing.hub import PublishError, stage_upload, upload
from espnet_omnirouter.utils.console import setup_cli_logging


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packed_model", type=Path, required=True, help="from bin/pack_model")
    parser.add_argument("--hf_repo", required=True, help="<user or org>/<name>")
    parser.add_argument("--upload_dir", type=Path, help="default: <archive name>_hf beside it")
    parser.add_argument("--dry_run", action="store_true", help="build the files, upload nothing")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--commit_message", default="Upload ESPnet model (espnet_omnirouter)")
    args = parser.parse_args()
    setup_cli_logging()
    if not args.packed_model.is_file():
        parser.error(f"not found: {args.packed_model}")
    if args.hf_repo.count("/") != 1 or not all(args.hf_repo.split("/")):
        parser.error(f"--hf_repo {args.hf_repo}: expected <user or org>/<name>")
    archive_name = args.packed_model.name.split(".")[0]
    upload_dir = args.upload_dir or args.packed_model.with_name(f"{archive_name}_hf")
    try:
        files = stage_upload(args.packed_model, upload_dir, args.hf_repo)
        print(f"[publish] {upload_dir}: {len(files)} files for {args.hf_repo}")
        for path in files:
            print(f"  {path} ({(upload_dir / path).stat().st_size:,} bytes)")
        if args.dry_run:
            print("[publish] dry run: nothing uploaded")
            return
        url = upload(upload_dir, args.hf_repo, None, args.private, args.commit_message)
    except PublishError as error:
        sys.exit(f"publish: {error}")
    print(f"[publish] uploaded: {url}")


if __name__ == "__main__":
    main()
