"""Specs: packing into messages, the limit check, and dropping exactly the parts Discord rejected."""

from __future__ import annotations

from bot.render import limits
from bot.render.specs import ButtonSpec, EmbedSpec, FieldSpec, MessageSpec, drop_rejected, limit_problems, pack


def embed(n: int, **kw: object) -> EmbedSpec:
    return EmbedSpec(title=f"Paper {n}", url=f"https://huggingface.co/papers/{n}", thumbnail=f"https://t/{n}.png", **kw)  # type: ignore[arg-type]


def test_pack_respects_count_and_size() -> None:
    small = [EmbedSpec(description="x" * 10) for _ in range(25)]
    assert [len(m) for m in pack(small)] == [10, 10, 5]
    big = [EmbedSpec(description="x" * 4000) for _ in range(3)]
    assert [len(m) for m in pack(big)] == [1, 1, 1]
    assert [len(m) for m in pack([EmbedSpec(description="x" * 2900)] * 3, reserve=120)] == [2, 1]


def test_limit_problems_names_each_breach() -> None:
    assert limit_problems(MessageSpec(content="hi")) == []
    assert limit_problems(MessageSpec()) == ["empty message"]
    over = MessageSpec(embeds=(EmbedSpec(title="t" * 257, fields=(FieldSpec("n", ""),)),), nonce="n" * 26)
    problems = limit_problems(over)
    assert any(p.startswith("embeds.0.title") for p in problems)
    assert any(p.startswith("embeds.0.fields.0") for p in problems)
    assert any(p.startswith("nonce") for p in problems)
    assert limit_problems(MessageSpec(content="x" * (limits.CONTENT_MAX + 1)))


def test_a_rejected_thumbnail_or_link_is_dropped_and_nothing_else() -> None:
    message = MessageSpec(embeds=tuple(embed(i) for i in range(4)), nonce="pd1", part=2, parts=3)
    cleaned = drop_rejected(message, ["embeds.3.thumbnail.url"])
    assert cleaned is not None
    assert cleaned.embeds[3].thumbnail is None and cleaned.embeds[3].title == "Paper 3"
    assert [e.thumbnail for e in cleaned.embeds[:3]] == [e.thumbnail for e in message.embeds[:3]]
    assert (cleaned.nonce, cleaned.part, cleaned.parts) == ("pd1", 2, 3)  # the retry is the same part
    both = drop_rejected(message, ["embeds.1.url", "embeds.2.thumbnail.url"])
    assert both is not None and both.embeds[1].url is None and both.embeds[2].thumbnail is None


def test_a_rejected_field_or_button_is_dropped() -> None:
    fields = (FieldSpec("Code", "x"), FieldSpec("Project page", "y"), FieldSpec("Links", "z"))
    message = MessageSpec(
        embeds=(EmbedSpec(title="t", fields=fields),),
        buttons=tuple(ButtonSpec(label=f"b{i}", url=f"https://x/{i}") for i in range(7)),
    )
    cleaned = drop_rejected(message, ["embeds.0.fields.1.value", "components.1.components.0.url"])
    assert cleaned is not None
    assert [f.name for f in cleaned.embeds[0].fields] == ["Code", "Links"]
    assert [b.label for b in cleaned.buttons] == ["b0", "b1", "b2", "b3", "b4", "b6"]  # row 1, column 0 = b5


def test_nothing_to_drop_means_no_retry() -> None:
    message = MessageSpec(embeds=(embed(0),))
    assert drop_rejected(message, []) is None
    assert drop_rejected(message, ["embeds.0.title"]) is None  # essential: a builder bug, not data to lose
    assert drop_rejected(message, ["embeds.0.thumbnail.url", "content"]) is None
    assert drop_rejected(message, ["embeds.5.thumbnail.url"]) is None
    no_thumb = MessageSpec(embeds=(EmbedSpec(title="t"),))
    assert drop_rejected(no_thumb, ["embeds.0.thumbnail.url"]) is None  # already gone: retrying changes nothing
