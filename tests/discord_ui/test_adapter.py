"""The spec → discord.py adapter: field for field, the sizes the builders packed for, mentions as allowed."""

from __future__ import annotations

from hypothesis import given, settings

from bot.discord_ui.adapter import NO_MENTIONS, allowed_mentions_for, embed_from_spec, link_view, send_kwargs
from bot.models import Paper
from bot.render.papers import abstract_messages
from bot.render.specs import ButtonSpec, EmbedSpec, FieldSpec, MessageSpec
from tests.render.test_papers import papers


@settings(max_examples=60)
@given(papers())
def test_discord_measures_an_embed_as_the_spec_does(paper: Paper) -> None:
    for message in abstract_messages(paper):
        embeds = [embed_from_spec(spec) for spec in message.embeds]
        # discord.py's len(Embed) is what Discord's 6000 rule counts; the builders packed by spec.size().
        assert [len(e) for e in embeds] == [spec.size() for spec in message.embeds]


def test_every_part_of_a_spec_reaches_the_embed() -> None:
    spec = EmbedSpec(
        title="T",
        url="https://x.org",
        description="D",
        author="A",
        thumbnail="https://t.org/t.png",
        footer="F",
        fields=(FieldSpec("N", "V", inline=True),),
        color=0x123456,
    )
    embed = embed_from_spec(spec)
    assert (embed.title, embed.url, embed.description) == ("T", "https://x.org", "D")
    assert (embed.author.name, embed.thumbnail.url, embed.footer.text) == ("A", "https://t.org/t.png", "F")
    assert [(f.name, f.value, f.inline) for f in embed.fields] == [("N", "V", True)]
    assert embed.colour is not None and embed.colour.value == 0x123456


def test_mentions_are_none_unless_roles_are_allowed() -> None:
    assert allowed_mentions_for(MessageSpec(content="x")) is NO_MENTIONS
    allowed = allowed_mentions_for(MessageSpec(content="x", allowed_role_ids=(5, 6))).to_dict()
    assert allowed == {"parse": [], "roles": [5, 6]}


async def test_buttons_are_laid_out_five_per_row() -> None:
    message = MessageSpec(
        content="x",
        buttons=(
            *(ButtonSpec(label=f"l{i}", url=f"https://x.org/{i}") for i in range(6)),
            ButtonSpec(label="act", custom_id="act"),
        ),
    )
    view = link_view(message)
    assert view is not None
    rows = [row["components"] for row in view.to_components()]
    assert [len(r) for r in rows] == [5, 2]
    assert rows[1][1]["custom_id"] == "act" and "url" not in rows[1][1]
    assert link_view(MessageSpec(content="x")) is None
    kwargs = send_kwargs(message)
    assert kwargs["content"] == "x" and kwargs["view"] is not None and kwargs["embeds"] == []
