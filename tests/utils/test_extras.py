"""Optional parts used without their extra say which extra to install."""

import sys

import pytest

from espnet_omnirouter.utils import extras
from espnet_omnirouter.utils.extras import MissingExtraError, import_optional


@pytest.fixture
def fake_extra(tmp_path, monkeypatch):
    """Two import names of the ``plots`` extra: one not installed, one installed but broken
    (it imports a module that does not exist)."""
    monkeypatch.setitem(extras.EXTRA_OF_MODULE, "omnirouter_absent_module", "plots")
    monkeypatch.setitem(extras.EXTRA_OF_MODULE, "omnirouter_broken_module", "plots")
    (tmp_path / "omnirouter_broken_module.py").write_text("import omnirouter_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_installed_module_is_returned():
    import onnx

    assert import_optional("onnx", "ONNX export") is onnx


def test_missing_module_names_the_extra_and_what_needed_it(fake_extra):
    with pytest.raises(MissingExtraError) as error:
        import_optional("omnirouter_absent_module.sub", "plotting")
    assert str(error.value) == (
        "plotting needs omnirouter_absent_module, which is not installed: "
        "pip install 'espnet_omnirouter[plots]'"
    )
    assert isinstance(error.value, ImportError)


def test_failure_inside_an_installed_module_is_not_blamed_on_the_extra(fake_extra):
    with pytest.raises(ModuleNotFoundError) as error:
        import_optional("omnirouter_broken_module", "plotting")
    assert not isinstance(error.value, MissingExtraError)
    assert error.value.name == "omnirouter_no_such_dependency"


def test_corpora_without_lhotse_name_the_corpora_extra(monkeypatch):
    from espnet_omnirouter.corpora.registry import corpora

    monkeypatch.setitem(sys.modules, "lhotse", None)  # what an environment without it does
    with pytest.raises(MissingExtraError, match=r"espnet_omnirouter\[corpora\]"):
        corpora()


def test_publishing_without_huggingface_hub_names_the_hub_extra(monkeypatch):
    from espnet_omnirouter.publishing.hub import hub_client

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(MissingExtraError, match=r"espnet_omnirouter\[hub\]"):
        hub_client()


def test_export_without_onnxscript_names_the_onnx_extra(monkeypatch, tmp_path, capsys):
    from espnet_omnirouter.bin import export

    monkeypatch.setitem(sys.modules, "onnxscript", None)
    status = export.main(["--model", str(tmp_path), "--output_dir", str(tmp_path / "onnx")])
    assert status == export.EXIT_BAD_MODEL
    err = capsys.readouterr().err
    assert "export: ONNX export needs onnxscript" in err
    assert "pip install 'espnet_omnirouter[onnx]'" in err


def test_lexicon_decoding_without_flashlight_text_names_the_lm_extra(monkeypatch, tmp_path):
    from espnet_omnirouter.asr.decoding.ctc_lexicon_decoder import CTCLexiconDecoder
    from espnet_omnirouter.utils.model_files import LEXICON_FILE, LM_FILE

    for name in (LEXICON_FILE, LM_FILE):
        (tmp_path / name).write_text("")
    # Every level: an earlier test of the process may have imported flashlight.lib.text.
    for module in ("flashlight", "flashlight.lib", "flashlight.lib.text"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=r"espnet_omnirouter\[lm\]"):
        CTCLexiconDecoder(["<blank>", "a"], tmp_path)
