"""The start-up hook that tells users to import the plugin when ESPnet needs its classes."""

import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from espnet2.train.class_choices import ClassChoices

from _espnet_omnirouter_startup import hint
from espnet_omnirouter.registration import plugin_choices


def test_hint_knows_every_key_the_plugin_registers():
    registered = {name: tuple(classes) for name, classes in plugin_choices().items()}
    assert hint.PLUGIN_CHOICES == registered


def test_unregistered_plugin_key_names_the_import_other_keys_keep_espnet_error():
    hint.install()
    choices = ClassChoices("encoder", {"conformer": ConformerEncoder}, default="conformer")
    with pytest.raises(ValueError, match="--encoder must be one of.*`import espnet_omnirouter`"):
        choices.get_class("moe_conformer")
    with pytest.raises(ValueError, match="--encoder must be one of") as error:
        choices.get_class("no_such_encoder")
    assert "espnet_omnirouter" not in str(error.value)


def test_enabled_hook_tells_a_process_that_did_not_import_the_plugin(tmp_path):
    """Enabled in a site dir, the hook runs when that dir is processed at start-up: ESPnet
    alone meets a config naming our classes; disabled, ESPnet's plain error is back."""
    from espnet2.tasks.asr import ASRTask

    args = vars(ASRTask.get_parser().parse_args([]))
    args.update(encoder="moe_conformer", model="moe_espnet", token_list=["<blank>", "a", "<eos>"])
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(args))
    site_dir = tmp_path / "site-packages"
    site_dir.mkdir()
    script = (
        f"import site; site.addsitedir({str(site_dir)!r})\n"
        "from espnet2.tasks.asr import ASRTask\n"
        f"ASRTask.build_model_from_file({str(config)!r}, None)\n"
    )

    def load_without_plugin() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)

    assert hint.main(["enable", "--site_dir", str(site_dir)]) == 0
    assert (site_dir / hint.PTH_NAME).read_text() == hint.PTH_LINE
    result = load_without_plugin()
    assert result.returncode != 0
    assert "'moe_conformer' comes from the espnet_omnirouter plugin" in result.stderr
    assert "import espnet_omnirouter" in result.stderr

    assert hint.main(["disable", "--site_dir", str(site_dir)]) == 0
    assert not (site_dir / hint.PTH_NAME).exists()
    result = load_without_plugin()
    assert result.returncode != 0
    assert "--encoder must be one of" in result.stderr
    assert "espnet_omnirouter plugin" not in result.stderr


def test_installing_the_package_enables_no_hook():
    """The hook runs in every Python process: only the user's `enable` may write it."""
    site_dirs = {Path(p) for p in (sysconfig.get_paths()["purelib"], *site.getsitepackages())}
    assert not any((d / hint.PTH_NAME).exists() for d in site_dirs)
