"""The answering core's settings, each declared once with its default and bounds
(`bot.settings.Settings` is made of these sections; config/articlebot.toml says
what each means)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from bot.env import platform_env


class AnswerConfig(BaseModel):
    """How a question becomes an answer (bot/answer/answerer.py)."""

    top_k: int = Field(5, ge=1, le=50)
    # A trained sentence reader's folder (`make train-reader` writes one); set, it
    # weighs the candidates instead of the hand-weighted evidence below.
    reader_dir: Path | None = None
    # The shipped reranker (bot/answer/rerank.py) reorders the evidence's best few
    # sentences; off, the evidence alone chooses. Not used with reader_dir.
    reranker: bool = True
    # Abstain below this confidence; unset, 0.628 of the hand-weighted evidence of the
    # best sentence by itself, or the probability a reader's weighing chose.
    min_score: float | None = Field(None, ge=-1.0, le=3.0)
    # The evidence a sentence answers with (bot/answer/signals.py): its passage's cosine,
    # plus these times its features; fitted by bench/answer_features.py.
    lexical_weight: float = Field(0.75, ge=0.0, le=5.0)
    sentence_weight: float = Field(1.0, ge=0.0, le=5.0)
    answer_kind_weight: float = Field(0.1, ge=0.0, le=5.0)
    unknown_name_penalty: float = Field(0.6, ge=0.0, le=5.0)
    missing_number_penalty: float = Field(0.4, ge=0.0, le=5.0)
    # Taken off the confidence (not the ranking) when a question asks for a date or a
    # number and the answer's sentences hold none, or asks yes or no and they hold little
    # of its wording.
    missing_kind_penalty: float = Field(0.5, ge=0.0, le=5.0)
    context_weight: float = Field(0.3, ge=0.0, le=5.0)
    recency_weight: float = Field(0.3, ge=0.0, le=5.0)
    followup_article_weight: float = Field(0.1, ge=0.0, le=5.0)
    answer_max_chars: int = Field(400, ge=80)
    question_max_chars: int = Field(1000, ge=10)


class GenerationConfig(BaseModel):
    """Generated answers from an OpenAI-compatible endpoint (bot/answer/generation.py)."""

    # "extractive" (default, offline) or "openai": any OpenAI-compatible chat endpoint
    answer_backend: Literal["extractive", "openai"] = "extractive"
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "llama3.1"
    openai_api_key: SecretStr | None = Field(None, validation_alias=platform_env("OPENAI_API_KEY"))
    openai_timeout_seconds: float = Field(20.0, gt=0)
