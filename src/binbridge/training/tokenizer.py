"""Byte-level BPE tokenizer trained on the corpus (tiny preset).

One tokenizer serves both the encoder (assembly) and the decoder (analysis and
names). Byte-level BPE never meets an unknown character, which matters for the
string literals that the normaliser copies into the assembly.
"""

from __future__ import annotations

from collections.abc import Iterable

PAD, UNK, BOS, EOS, MASK = "<pad>", "<unk>", "<s>", "</s>", "<mask>"
SPECIAL_TOKENS = [PAD, UNK, BOS, EOS, MASK]


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int):
    """Return a ``PreTrainedTokenizerFast`` trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=PAD, unk_token=UNK, bos_token=BOS,
                                   eos_token=EOS, mask_token=MASK)
