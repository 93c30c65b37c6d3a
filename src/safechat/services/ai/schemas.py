"""What the AI layer asks providers for and what they must answer.

Providers return these pydantic models; remote answers are validated by them
(structured output), never parsed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Reply = Annotated[str, Field(min_length=1, max_length=200)]


class ReplySuggestions(BaseModel):
    """Short replies the user could send next."""

    model_config = ConfigDict(extra="ignore")

    replies: Annotated[list[Reply], Field(min_length=1, max_length=6)] = Field(
        description="Three short, distinct replies the user could send next"
    )
    language: str = Field("en", description="ISO 639-1 code of the conversation's language")
    confidence: float = Field(0.7, ge=0.0, le=1.0, description="How fitting the replies are")


class Completion(BaseModel):
    """The rest of a sentence the user is typing."""

    model_config = ConfigDict(extra="ignore")

    completion: str = Field(
        max_length=200, description="Text to append at the cursor; empty when unsure"
    )
    confidence: float = Field(0.5, ge=0.0, le=1.0)


class Summary(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str = Field(max_length=4000, description="A short summary of the conversation")
    topics: Annotated[list[str], Field(max_length=10)] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the conversation as the model sees it."""

    sender: str
    text: str
    own: bool = False


Task = Literal["smart_replies", "typing", "summarize"]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A provider-neutral request: the OpenAI adapter renders it into a prompt,
    the offline provider answers it with heuristics."""

    task: Task
    context: list[Turn]
    similar: list[str] = field(default_factory=list)
    partial_text: str = ""
    phrases: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A moderation result: categories that fired and a score per category."""

    flagged: bool
    categories: list[str]
    scores: dict[str, float]

    def to_wire(self) -> dict[str, object]:
        return {"flagged": self.flagged, "categories": self.categories, "scores": self.scores}

    @classmethod
    def clean(cls) -> Verdict:
        return cls(False, [], {})
