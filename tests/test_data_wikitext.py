"""WikiText raw files, BPE training on a tiny text, token arrays and contexts."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from specdyn.data import (
    DataError,
    chunks,
    clean_text,
    load_tokenizer,
    read_wikitext,
    tokenize_to_array,
    train_bpe,
)

TEXT = (
    " = Valkyria Chronicles III = \n \n Senjō no Valkyria 3 : Unrecorded Chronicles is a "
    "tactical role @-@ playing video game . \n The game began development in 2010 . \n"
) * 20


@pytest.fixture
def raw_root(tmp_path):
    folder = tmp_path / "wikitext-103-raw"
    folder.mkdir()
    for split in ("train", "valid", "test"):
        (folder / f"wiki.{split}.raw").write_text(f"{split} {TEXT}", encoding="utf-8")
    return tmp_path


def test_read_wikitext(raw_root):
    texts = read_wikitext(raw_root)
    assert sorted(texts) == ["test", "train", "valid"]
    assert texts["valid"].startswith("valid  = Valkyria") and "Senjō" in texts["train"]
    assert read_wikitext(raw_root / "wikitext-103-raw", ["test"])["test"] == texts["test"]
    (raw_root / "wikitext-103-raw" / "wiki.test.raw").unlink()
    with pytest.raises(DataError, match="wiki.test.raw"):
        read_wikitext(raw_root)


def test_clean_text_keeps_letters_digits_space():
    assert (
        clean_text("Senjō no Valkyria 3 : role @-@ playing .\n")
        == "senjō no valkyria 3  role  playing \n"
    )


def test_train_bpe_saves_json_and_round_trips(tmp_path):
    pytest.importorskip("tokenizers")
    path = tmp_path / "tok" / "bpe.json"
    tokenizer = train_bpe([TEXT], vocab_size=300, path=path)
    assert path.is_file() and json.loads(path.read_text())["model"]["type"] == "BPE"
    assert not list(path.parent.glob(".tmp-*"))
    assert 256 < tokenizer.get_vocab_size() <= 300
    tokens = tokenize_to_array(TEXT, load_tokenizer(path))
    assert tokens.dtype == np.uint16 and tokens.ndim == 1
    assert len(tokens) < 0.6 * len(TEXT.encode())  # merges were learned
    assert tokenizer.decode(tokens.tolist()) == TEXT


def test_load_tokenizer_rejects_garbage(tmp_path):
    pytest.importorskip("tokenizers")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DataError, match="bad.json"):
        load_tokenizer(tmp_path / "bad.json")


def test_chunks_are_contexts_of_length_plus_one():
    tokens = np.arange(23, dtype=np.uint16)
    contexts = chunks(tokens, 4)
    assert contexts.shape == (4, 5) and contexts.dtype == np.uint16
    assert contexts[1].tolist() == [5, 6, 7, 8, 9]  # input 5..8, targets 6..9
    assert chunks(tokens, 30).shape == (0, 31)
    with pytest.raises(DataError, match="length"):
        chunks(tokens, 0)


def test_missing_tokenizers_names_the_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(DataError, match="pip install tokenizers"):
        train_bpe(["text"], 300, tmp_path / "t.json")
