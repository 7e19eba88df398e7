"""Data sets for the paper's experiments: real loaders, verified downloads, offline stand-ins.

Loaders (numpy arrays or torch tensors, shapes in each docstring):
    load_cifar10(root)               CIFAR-10, binary or (safely unpickled) python layout
    read_idx(path), load_mnist(root) MNIST-format IDX files, gzipped or not
    list_utterances(root, subset)    LibriSpeech folders; read_audio, log_mel features
    encode_text, decode_ids, greedy_decode, cer, wer   characters and CTC for speech
    read_wikitext(root)              WikiText-103 raw; train_bpe, tokenize_to_array, chunks
Downloads and the cache (one root; cached, downloaded, or "pass --data-dir"):
    SOURCES, fetch, fetch_source, extract; CACHE_ROOT, cache_dir, dataset_root
Stand-ins that work offline (shared/DATA.md):
    load_fashion_mnist, fashion_as_cifar, sotu_texts, synthesize_librispeech
Every failure is a ``DataError`` with a one-line message naming the file, folder or URL.

One module per data-set family turns those into what a task trains on, with a frozen
config dataclass each (imported from the module, not re-exported here):
    images      CIFAR-10 / Fashion-MNIST / synthetic splits, random labels (CifarData)
    tokens      WikiText-103 / State of the Union tokens and contexts (TextData)
    speech      LibriSpeech / espeak-ng features and transcripts (SpeechData)
    diffusion   MNIST / Fashion-MNIST images and noise for DDPM (DiffusionData)
    modular     modular addition for grokking (GrokkingData)
    batches     minibatch indices as a pure function of (order seed, step)
"""

from typing import TYPE_CHECKING

from specdyn.lazy import lazy_exports

if TYPE_CHECKING:
    from specdyn.data.cache import CACHE_ROOT, cache_dir, dataset_root
    from specdyn.data.catalog import DATASETS, SOURCES, Source
    from specdyn.data.chars import (
        BLANK,
        UNKNOWN,
        VOCAB,
        VOCAB_SIZE,
        cer,
        corpus_error_rate,
        decode_ids,
        edit_distance,
        encode_text,
        greedy_decode,
        wer,
    )
    from specdyn.data.cifar import load_cifar10, read_binary_batch, read_python_batch
    from specdyn.data.download import extract, fetch, fetch_source, file_sha256
    from specdyn.data.errors import DataError
    from specdyn.data.idx import load_mnist, read_idx
    from specdyn.data.librispeech import Utterance, list_utterances, read_audio, utterance_features
    from specdyn.data.mel import log_mel, mel_filterbank
    from specdyn.data.resampling import resample
    from specdyn.data.standins import (
        fashion_as_cifar,
        fashion_mnist_root,
        load_fashion_mnist,
        sotu_texts,
        speakable,
        split_sentences,
        synthesize_librispeech,
    )
    from specdyn.data.wikitext import (
        chunks,
        clean_text,
        load_tokenizer,
        read_wikitext,
        tokenize_to_array,
        train_bpe,
    )

__getattr__ = lazy_exports(
    __name__,
    {
        "CACHE_ROOT": "specdyn.data.cache",
        "cache_dir": "specdyn.data.cache",
        "dataset_root": "specdyn.data.cache",
        "BLANK": "specdyn.data.chars",
        "UNKNOWN": "specdyn.data.chars",
        "VOCAB": "specdyn.data.chars",
        "VOCAB_SIZE": "specdyn.data.chars",
        "cer": "specdyn.data.chars",
        "corpus_error_rate": "specdyn.data.chars",
        "decode_ids": "specdyn.data.chars",
        "edit_distance": "specdyn.data.chars",
        "encode_text": "specdyn.data.chars",
        "greedy_decode": "specdyn.data.chars",
        "wer": "specdyn.data.chars",
        "load_cifar10": "specdyn.data.cifar",
        "read_binary_batch": "specdyn.data.cifar",
        "read_python_batch": "specdyn.data.cifar",
        "extract": "specdyn.data.download",
        "fetch": "specdyn.data.download",
        "fetch_source": "specdyn.data.download",
        "file_sha256": "specdyn.data.download",
        "DataError": "specdyn.data.errors",
        "load_mnist": "specdyn.data.idx",
        "read_idx": "specdyn.data.idx",
        "Utterance": "specdyn.data.librispeech",
        "list_utterances": "specdyn.data.librispeech",
        "read_audio": "specdyn.data.librispeech",
        "utterance_features": "specdyn.data.librispeech",
        "log_mel": "specdyn.data.mel",
        "mel_filterbank": "specdyn.data.mel",
        "resample": "specdyn.data.resampling",
        "DATASETS": "specdyn.data.catalog",
        "SOURCES": "specdyn.data.catalog",
        "Source": "specdyn.data.catalog",
        "fashion_as_cifar": "specdyn.data.standins",
        "fashion_mnist_root": "specdyn.data.standins",
        "load_fashion_mnist": "specdyn.data.standins",
        "sotu_texts": "specdyn.data.standins",
        "speakable": "specdyn.data.standins",
        "split_sentences": "specdyn.data.standins",
        "synthesize_librispeech": "specdyn.data.standins",
        "chunks": "specdyn.data.wikitext",
        "clean_text": "specdyn.data.wikitext",
        "load_tokenizer": "specdyn.data.wikitext",
        "read_wikitext": "specdyn.data.wikitext",
        "tokenize_to_array": "specdyn.data.wikitext",
        "train_bpe": "specdyn.data.wikitext",
    },
)

__all__ = [
    "DataError",
    "load_cifar10",
    "read_binary_batch",
    "read_python_batch",
    "read_idx",
    "load_mnist",
    "Utterance",
    "list_utterances",
    "read_audio",
    "utterance_features",
    "log_mel",
    "mel_filterbank",
    "resample",
    "BLANK",
    "UNKNOWN",
    "VOCAB",
    "VOCAB_SIZE",
    "encode_text",
    "decode_ids",
    "greedy_decode",
    "edit_distance",
    "cer",
    "wer",
    "corpus_error_rate",
    "read_wikitext",
    "clean_text",
    "train_bpe",
    "load_tokenizer",
    "tokenize_to_array",
    "chunks",
    "SOURCES",
    "DATASETS",
    "Source",
    "fetch",
    "fetch_source",
    "CACHE_ROOT",
    "cache_dir",
    "dataset_root",
    "extract",
    "file_sha256",
    "fashion_mnist_root",
    "load_fashion_mnist",
    "fashion_as_cifar",
    "sotu_texts",
    "split_sentences",
    "speakable",
    "synthesize_librispeech",
]
