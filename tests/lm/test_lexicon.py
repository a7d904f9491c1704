"""Lexicon: words spelt with the recipe's sentencepiece model, unspellable words left out."""

import sentencepiece

from espnet_omnirouter.lm.lexicon import spell_words, write_lexicon


def test_words_are_spelt_in_tokens_and_unknown_characters_are_left_out(tmp_path, caplog):
    text = tmp_path / "text"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    sentencepiece.SentencePieceTrainer.train(
        input=str(text),
        model_prefix=str(tmp_path / "bpe"),
        vocab_size=20,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
    )
    model = tmp_path / "bpe.model"
    processor = sentencepiece.SentencePieceProcessor(model_file=str(model))
    token_list = ["<blank>", "<unk>"] + [processor.id_to_piece(i) for i in range(3, len(processor))]
    entries = spell_words(["the", "dog", "cat", "the", "zebra"], model, token_list)
    assert [word for word, *_ in entries] == ["cat", "dog", "the"]  # sorted, unique
    for word, *pieces in entries:
        assert "".join(pieces) == "▁" + word and set(pieces) <= set(token_list)
    assert "zebra" in caplog.text  # 'z', 'b', 'r' were never seen by the tokenizer
    write_lexicon(entries, tmp_path / "lexicon.txt")
    lines = (tmp_path / "lexicon.txt").read_text().splitlines()
    assert lines[0] == "cat\t" + " ".join(entries[0][1:])
