"""The Binbridge model: encoder features -> Q-Former -> projection -> soft prompt -> decoder.

The encoder is optional at training time, because training reads encoder
features from an on-disk cache; inference runs it live.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from binbridge.model.config import BinbridgeConfig
from binbridge.model.encoder import SlidingWindowEncoder
from binbridge.model.loss import LossOutput, mixed_loss
from binbridge.model.prompting import instruction_ids, parse_output
from binbridge.model.qformer import QFormer

logger = logging.getLogger(__name__)


@dataclass
class GeneratedName:
    """One decoded prediction. ``confidence`` is the geometric mean probability of the name tokens."""

    name: str | None
    analysis: str
    confidence: float
    raw_text: str
    source: str = "model"
    """``model`` for decoded names; ``string`` for names read from the function's strings (the predictor)."""


@dataclass
class NameStartPrior:
    """Prior of ``name_start_guidance``: the decoder's first-name-token distribution for the null prompt.

    ``marker_ids`` are the tokens of the name marker.
    """

    marker_ids: list[int]
    log_probs: torch.Tensor  # [V]


def guide_name_start(scores: torch.Tensor, history: torch.Tensor, prior: NameStartPrior,
                     scale: float) -> torch.Tensor:
    """Score the first name token of rows that just wrote the name marker against the prior.

    ``scores`` are [B, V] log-probabilities and ``history`` the [B, t] tokens written so far.
    Those rows get cond + (scale - 1) * (cond - prior). Names that fit every function ("init")
    then lose their head start, and the other rows are returned unchanged.
    """
    m = len(prior.marker_ids)
    if history.shape[1] < m or m == 0:
        return scores
    recent = history[:, -m:]  # [B, m]
    at_start = (recent == torch.tensor(prior.marker_ids)).all(dim=1, keepdim=True)  # [B, 1]
    return torch.where(at_start, scores + (scale - 1.0) * (scores - prior.log_probs), scores)  # [B, V]


@dataclass
class PaddedInstructions:
    """Instruction embeddings of a batch, left-padded to one length P."""

    embeddings: torch.Tensor  # [rows, P, H]
    mask: torch.Tensor  # [rows, P], 0 on padding
    lengths: torch.Tensor  # [rows], tokens of each row's own instruction


def _can_drop_rows(cache) -> bool:
    """Return whether every layer of the KV cache is a plain dynamic layer, whose rows can be selected.

    Static, quantized and linear-attention layers lack ``batch_select_indices`` or
    select only part of their state, so finished rows stay in such caches.
    """
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return False
    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def _output_cache(output):
    """Return the KV cache of a decoder output (``cache`` in transformers 5, ``past_key_values`` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


class PromptNorm(nn.BatchNorm1d):
    """BatchNorm that falls back to its running statistics for a training batch of one row."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] < 2:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                            training=False, eps=self.eps)
        return super().forward(x)


class BinbridgeModel(nn.Module):
    def __init__(self, config: BinbridgeConfig, qformer: QFormer, decoder: nn.Module, decoder_tokenizer,
                 encoder: SlidingWindowEncoder | None = None, encoder_tokenizer=None) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.encoder_tokenizer = encoder_tokenizer
        self.qformer = qformer
        self.decoder = decoder
        self.decoder_tokenizer = decoder_tokenizer
        Q, d = config.qformer.num_query_tokens, config.qformer.hidden_size
        # Standardise every (query, channel) over functions with running statistics. Without it the
        # part that all functions share dominates the soft prompt (measured on the tiny preset: the
        # Q-Former output varied by about 5% across functions), and after the decoder's RMSNorm the
        # prompts of different functions look alike.
        self.prompt_norm = PromptNorm(Q * d) if config.prompt_norm == "batch" else nn.Identity()
        # The decoder's width comes from its own config, so any Llama size plugs in.
        H = self.language_model.config.hidden_size
        self.projection = nn.Linear(d, H)
        # Learned "no function" prompt for classifier-free guidance: training swaps it in for a
        # fraction of rows, so the decoder also learns the unconditional name distribution.
        self.null_prompt = nn.Parameter(torch.zeros(1, Q, H))

    @property
    def language_model(self) -> nn.Module:
        """The causal LM with any LoRA layers injected (unwrapped from peft's container)."""
        get_base = getattr(self.decoder, "get_base_model", None)
        return get_base() if callable(get_base) else self.decoder

    # ---- soft prompt ---------------------------------------------------------------------------

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        if self.encoder is None:
            raise RuntimeError("this BinbridgeModel was built without an encoder; pass cached features instead")
        return self.encoder(input_ids, attention_mask)

    def soft_prompt(self, features: torch.Tensor, feature_mask: torch.Tensor) -> torch.Tensor:
        queries = self.qformer(features, feature_mask).float()  # [B, L, De] -> [B, Q, d]
        B, Q, d = queries.shape
        queries = self.prompt_norm(queries.reshape(B, Q * d)).reshape(B, Q, d)  # [B, Q*d] -> [B, Q, d]
        return self.projection(queries)  # [B, Q, d] -> [B, Q, H]

    # ---- training ------------------------------------------------------------------------------

    def forward(self, features: torch.Tensor, feature_mask: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor, span_kinds: torch.Tensor) -> LossOutput:
        prompt = self.soft_prompt(features, feature_mask)  # [B, Q, H]
        return self.language_loss(prompt, input_ids, attention_mask, span_kinds)

    def language_loss(self, prompt: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      span_kinds: torch.Tensor) -> LossOutput:
        """Mixed loss of the decoder on the target text, given each row's soft prompt [B, Q, H]."""
        B, Q, H = prompt.shape
        if self.training and self.config.guidance_dropout > 0:
            dropped = torch.rand(B, device=prompt.device) < self.config.guidance_dropout  # [B]
            prompt = torch.where(dropped[:, None, None], self.null_prompt.to(prompt.dtype), prompt)
        lm = self.language_model
        token_embeddings = lm.get_input_embeddings()(input_ids)  # [B, T, H]
        embeddings = torch.cat([prompt.to(token_embeddings.dtype), token_embeddings], dim=1)  # [B, Q+T, H]
        mask = torch.cat([attention_mask.new_ones(B, Q), attention_mask], dim=1)  # [B, Q+T]

        logits = lm(inputs_embeds=embeddings, attention_mask=mask, use_cache=False).logits  # [B, Q+T, V]
        # The soft prompt carries no targets: keep the logits from the last soft token on, so that
        # position Q-1 predicts the first text token. [B, Q+T, V] -> [B, T+1, V]
        text_logits = logits[:, Q - 1:]
        pad_kind = span_kinds.new_zeros(B, 1)
        pad_id = input_ids.new_zeros(B, 1)
        return mixed_loss(
            text_logits,
            torch.cat([pad_id, input_ids], dim=1),  # [B, T+1], aligned with text_logits
            torch.cat([pad_kind, span_kinds], dim=1),
            self.config.loss,
        )

    # ---- inference -----------------------------------------------------------------------------

    def max_new_tokens(self) -> int:
        prompt = self.config.prompt
        budget = prompt.max_name_tokens + 4
        if self.config.use_cot:
            budget += prompt.max_analysis_tokens
        return budget

    def instruction_ids(self, assemblies: Sequence[str | None]) -> list[list[int]]:
        """Return each row's instruction tokens, with the context hints of its assembly when the model uses them."""
        return [instruction_ids(self.decoder_tokenizer, self.config.prompt, assembly) for assembly in assemblies]

    def _instruction_embeddings(self, rows: int, per_row: list[list[int]]) -> "PaddedInstructions":
        """Embed the instructions, padded on the left to a common length P.

        Rows past len(per_row), which are the guidance copies, repeat the first len(per_row) rows.
        """
        tokenizer = self.decoder_tokenizer
        per_row = [per_row[i % len(per_row)] for i in range(rows)]
        P = max(len(ids) for ids in per_row)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        ids = torch.full((rows, P), pad, dtype=torch.long)  # [rows, P]
        mask = torch.zeros(rows, P, dtype=torch.long)  # [rows, P]
        for row, row_ids in enumerate(per_row):
            ids[row, P - len(row_ids):] = torch.tensor(row_ids)
            mask[row, P - len(row_ids):] = 1
        embeddings = self.language_model.get_input_embeddings()(ids)  # [rows, P] -> [rows, P, H]
        return PaddedInstructions(embeddings, mask, lengths=mask.sum(dim=1))

    def _name_marker_ids(self) -> list[int]:
        """Return the tokens of the name marker as training wrote it (the shared start of two encoded names)."""
        tokenizer, marker = self.decoder_tokenizer, self.config.prompt.name_marker
        first = tokenizer.encode(f"{marker} a", add_special_tokens=False)
        second = tokenizer.encode(f"{marker} b", add_special_tokens=False)
        shared = 0
        while shared < min(len(first), len(second)) and first[shared] == second[shared]:
            shared += 1
        return first[:shared]

    @torch.no_grad()
    def name_start_prior(self) -> NameStartPrior | None:
        """Compute the prior of ``name_start_guidance`` (None when it is off).

        One decoder row: null prompt, bare instruction (no hints) and name marker. It depends only
        on the weights, so callers that decode many batches compute it once and pass it to
        ``generate_from_prompts``.
        """
        if self.config.name_start_guidance == 1.0:
            return None
        marker_ids = self._name_marker_ids()
        ids = torch.tensor([instruction_ids(self.decoder_tokenizer, self.config.prompt) + marker_ids])  # [1, P0]
        text = self.language_model.get_input_embeddings()(ids)  # [1, P0, H]
        embeddings = torch.cat([self.null_prompt.to(text.dtype), text], dim=1)  # [1, Q, H] + [1, P0, H] -> [1, Q+P0, H]
        logits = self.language_model(inputs_embeds=embeddings, logits_to_keep=1).logits[0, -1]  # [V]
        return NameStartPrior(marker_ids, torch.log_softmax(logits.float(), dim=-1))

    @torch.no_grad()
    def inference_prompt(self, features: torch.Tensor, feature_mask: torch.Tensor) -> torch.Tensor:
        """Return the soft prompts [B, Q, H] of encoder features, computed as at generation time."""
        # The Q-Former trained under bf16 autocast; a bf16-configured model names under it too.
        use_bf16 = self.config.decoder.compute_dtype == "bfloat16"
        with torch.autocast(features.device.type, torch.bfloat16, enabled=use_bf16):
            return self.soft_prompt(features, feature_mask).float()  # [B, L, De] -> [B, Q, H]

    @torch.no_grad()
    def generate(self, features: torch.Tensor, feature_mask: torch.Tensor, max_new_tokens: int | None = None,
                 assemblies: Sequence[str] | None = None) -> list[GeneratedName]:
        """Decode names greedily from encoder features [B, L, De].

        ``assemblies`` (one normalised text per row) supply the context hints when the model was
        trained with them.
        """
        prompt = self.inference_prompt(features, feature_mask)  # [B, Q, H]
        rows = assemblies if assemblies is not None else [None] * prompt.shape[0]
        return self.generate_from_prompts(prompt, self.instruction_ids(rows), max_new_tokens=max_new_tokens,
                                          prior=self.name_start_prior())

    @torch.no_grad()
    def generate_from_prompts(self, prompt: torch.Tensor, instructions: list[list[int]], *,
                              max_new_tokens: int | None = None,
                              prior: NameStartPrior | None = None) -> list[GeneratedName]:
        """Decode names greedily, with the KV cache, from soft prompts [B, Q, H] and each row's instruction tokens.

        Instructions of different lengths are padded between the soft prompt and the instruction;
        explicit position ids keep every row's positions as in training. ``prior`` is
        ``name_start_prior()``, needed when ``name_start_guidance`` is on.
        """
        tokenizer = self.decoder_tokenizer
        lm = self.language_model
        limit = max_new_tokens or self.max_new_tokens()
        B, Q, _ = prompt.shape
        if len(instructions) != B:
            raise ValueError(f"generate_from_prompts got {B} prompts but {len(instructions)} instructions")
        scale = self.config.guidance_scale
        guided = scale != 1.0
        if guided:
            # Rows B..2B-1 carry the null prompt: [B, Q, H] -> [2B, Q, H].
            prompt = torch.cat([prompt, self.null_prompt.expand(B, -1, -1).to(prompt.dtype)], dim=0)
        rows = prompt.shape[0]
        padded = self._instruction_embeddings(rows, instructions)
        embeddings = torch.cat([prompt.to(padded.embeddings.dtype), padded.embeddings], dim=1)
        # [rows, Q, H] + [rows, P, H] -> [rows, Q+P, H]
        mask = torch.cat([padded.mask.new_ones(rows, Q), padded.mask], dim=1)  # [rows, Q+P]
        # Positions count only unmasked tokens, so padding shifts nothing: [rows, Q+P]
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)

        out = lm(inputs_embeds=embeddings, attention_mask=mask, position_ids=positions, use_cache=True,
                 logits_to_keep=1)  # logits [rows, 1, V]
        cache = _output_cache(out)
        next_logits = out.logits[:, -1]  # [rows, V]
        next_position = Q + padded.lengths  # [rows]

        eos = tokenizer.eos_token_id
        start_scale = self.config.name_start_guidance
        if start_scale != 1.0 and prior is None:
            prior = self.name_start_prior()
        out_tokens = torch.full((B, limit), eos, dtype=torch.long)  # [B, limit]; eos once a row is done
        out_log_probs = torch.zeros(B, limit)  # [B, limit]
        # Rows that wrote eos leave the batch (and the KV cache), so the steps that wait for the
        # longest name run on the rows still writing. live: their original row numbers, [b].
        live = torch.arange(B)
        history = torch.zeros(B, 0, dtype=torch.long)  # [b, t]: tokens the live rows wrote
        written = torch.zeros(B, next_logits.shape[-1], dtype=torch.bool)  # [b, V]: for the repetition penalty
        finished = torch.zeros(B, dtype=torch.bool)  # [b]: only rows a cache cannot drop stay once done
        drop_rows = _can_drop_rows(cache)
        for step in range(limit):
            b = live.shape[0]
            step_log_probs = torch.log_softmax(next_logits.float(), dim=-1)  # [rows, V], rows = b or 2b
            conditional = step_log_probs[:b]  # [b, V]
            scores = self._step_scores(step_log_probs, b, history, written, prior)  # [b, V]
            best = torch.where(finished, eos, scores.argmax(dim=-1))  # [b]
            written[torch.arange(b), best] = True
            out_tokens[live, step] = best
            best_log_prob = conditional.gather(1, best.unsqueeze(1)).squeeze(1)  # [b]
            out_log_probs[live, step] = torch.where(finished, 0.0, best_log_prob)
            history = torch.cat([history, best.unsqueeze(1)], dim=1)  # [b, t] -> [b, t+1]
            finished = finished | (best == eos)  # [b]
            if bool(finished.all()):
                break
            if drop_rows and bool(finished.any()):
                keep = (~finished).nonzero().squeeze(1)  # [b'] positions among the live rows
                live, history, written, best = live[keep], history[keep], written[keep], best[keep]
                keep_rows = torch.cat([keep, keep + b]) if guided else keep  # the null-prompt copies too
                cache.batch_select_indices(keep_rows)
                mask, next_position = mask[keep_rows], next_position[keep_rows]
                finished = finished[keep]
            step_input = torch.cat([best, best]) if guided else best  # [rows]
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)  # [rows, Q+P+t] -> [rows, Q+P+t+1]
            out = lm(input_ids=step_input.unsqueeze(1), attention_mask=mask, position_ids=next_position[:, None],
                     cache=cache, use_cache=True)  # logits [rows, 1, V]
            cache = _output_cache(out)
            next_logits = out.logits[:, -1]
            next_position = next_position + 1

        token_matrix = out_tokens.tolist()  # [B, limit]
        log_prob_matrix = out_log_probs.tolist()
        return [self._decode_row(row, row_log_probs) for row, row_log_probs in zip(token_matrix, log_prob_matrix)]

    def _step_scores(self, step_log_probs: torch.Tensor, b: int, history: torch.Tensor, written: torch.Tensor,
                     prior: NameStartPrior | None) -> torch.Tensor:
        """Return the scores [b, V] that pick the next token, from log-probabilities [b or 2b, V] of the live rows."""
        conditional = step_log_probs[:b]  # [b, V]
        scale = self.config.guidance_scale
        if scale != 1.0:
            # Classifier-free guidance: push the choice away from the unconditional distribution.
            unconditional = step_log_probs[b:]  # [b, V]
            scores = unconditional + scale * (conditional - unconditional)
        else:
            scores = conditional
        if prior is not None:
            scores = guide_name_start(scores, history, prior, self.config.name_start_guidance)
        penalty = self.config.repetition_penalty
        if penalty != 1.0:
            # Log-probabilities are <= 0, so multiplying by the penalty lowers repeated tokens
            # (guided scores can be positive: those are divided instead).
            repeated = torch.where(scores > 0, scores / penalty, scores * penalty)
            scores = torch.where(written, repeated, scores)
        return scores

    def _decode_row(self, token_ids: list[int], log_probs: list[float]) -> GeneratedName:
        tokenizer = self.decoder_tokenizer
        eos = tokenizer.eos_token_id
        length = token_ids.index(eos) + 1 if eos in token_ids else len(token_ids)
        token_ids, log_probs = token_ids[:length], log_probs[:length]
        text = tokenizer.decode(token_ids, skip_special_tokens=True)
        parsed = parse_output(text, self.config.prompt)

        name_start = self._name_start(token_ids)
        name_log_probs = log_probs[name_start:] or log_probs or [float("-inf")]
        confidence = float(torch.tensor(name_log_probs).mean().exp())
        return GeneratedName(name=parsed.name, analysis=parsed.analysis, confidence=confidence, raw_text=text)

    def _name_start(self, token_ids: list[int]) -> int:
        """Return the index of the first token after the name marker (0 when there is none)."""
        tokenizer = self.decoder_tokenizer
        marker = self.config.prompt.name_marker
        for i in range(len(token_ids)):
            if marker in tokenizer.decode(token_ids[: i + 1], skip_special_tokens=True):
                return i + 1
        return 0
