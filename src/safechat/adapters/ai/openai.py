"""AI provider for OpenAI-compatible servers: langchain-openai for chat
(structured output validated by pydantic) and embeddings, the openai client for
moderation. OPENAI_BASE_URL points it at any compatible server."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import openai
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel, SecretStr

from safechat.services.ai.prompts import render
from safechat.services.ai.schemas import ChatRequest, Verdict

T = TypeVar("T", bound=BaseModel)

# A local OpenAI-compatible server may need no key; the clients insist on one.
NO_KEY = "not-needed"


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        model: str,
        embedding_model: str,
        moderation_model: str,
        timeout: float,
        dimensions: int | None = None,
    ) -> None:
        key = api_key or NO_KEY
        self.embedding_model = embedding_model
        self._moderation_model = moderation_model
        # Retries are the breaker's business: one failure is one failure.
        self._chat = ChatOpenAI(
            model=model,
            api_key=SecretStr(key),
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            temperature=0.4,
            use_responses_api=False,
        )
        self._embeddings = OpenAIEmbeddings(
            model=embedding_model,
            openai_api_key=SecretStr(key),
            openai_api_base=base_url,
            request_timeout=timeout,
            max_retries=0,
            dimensions=dimensions,
            # Token counting would download tiktoken's tables; send text as is.
            check_embedding_ctx_length=False,
        )
        self._client = openai.AsyncOpenAI(
            api_key=key, base_url=base_url, timeout=timeout, max_retries=0
        )
        self._structured: dict[type[BaseModel], Any] = {}

    async def complete(self, request: ChatRequest, schema: type[T]) -> T:
        runnable = self._structured.get(schema)
        if runnable is None:
            runnable = self._chat.with_structured_output(schema, method="json_schema")
            self._structured[schema] = runnable
        result = await runnable.ainvoke(render(request))
        # with_structured_output validated the answer into `schema` (or raised).
        return schema.model_validate(result)

    async def embed(self, texts: list[str], keys: list[bytes]) -> list[list[float]]:
        # A remote model cannot be keyed (`keys` unused): what it returns is a function
        # of the text alone (docs/ai.md says what that reveals).
        vectors = await self._embeddings.aembed_documents(texts)
        sizes = {len(v) for v in vectors}
        if len(vectors) != len(texts) or len(sizes) != 1 or 0 in sizes:
            raise ValueError("embeddings answer does not fit the request")
        # One numpy pass: a Python loop over 128 x 1536 floats held the event loop.
        if not np.isfinite(np.asarray(vectors, dtype=np.float64)).all():
            raise ValueError("embeddings answer holds non-finite numbers")
        return vectors

    async def moderate(self, texts: list[str]) -> list[Verdict]:
        response = await self._client.moderations.create(model=self._moderation_model, input=texts)
        verdicts = []
        for result in response.results:
            categories = result.categories.model_dump(by_alias=True)
            scores = result.category_scores.model_dump(by_alias=True)
            verdicts.append(
                Verdict(
                    flagged=bool(result.flagged),
                    categories=sorted(k for k, v in categories.items() if v),
                    scores={k: round(float(v), 4) for k, v in scores.items() if v is not None},
                )
            )
        if len(verdicts) != len(texts):
            raise ValueError("moderation answered a different number of results")
        return verdicts

    async def close(self) -> None:
        await self._client.close()
