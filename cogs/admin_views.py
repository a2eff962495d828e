"""What /mjadmin shows: confirmations, lists and embeds built from the moderation values."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import discord

from bot.access import WEIGHT_ACTIONS
from bot.i18n import t
from bot.moderation import Change, GuildConfig, JobLine, JobsOverview
from bot.stats import StatsReport
from bot.ui.context import jump_url

FIELD_LIMIT = 1024
LIST_LIMIT = 20
_COLOUR = discord.Colour.blurple()


async def send(interaction: discord.Interaction[Any], text: str) -> None:
    """Moderators' answers are private to them."""
    await interaction.followup.send(
        text[:2000], ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


async def confirm(interaction: discord.Interaction[Any], locale: str, change: Change) -> None:
    await send(interaction, t(locale, change.key, **change.params))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _limit(locale: str, value: float) -> str:
    return _num(value) if value > 0 else t(locale, "admin.unlimited")


def _joined(items: Sequence[str], locale: str, *, separator: str = " ") -> str:
    """Items up to the field limit, then '... and N more'."""
    if not items:
        return t(locale, "admin.none")
    shown: list[str] = []
    size = 0
    for item in items[:LIST_LIMIT]:
        if size + len(item) + len(separator) > FIELD_LIMIT - 40:
            break
        shown.append(item)
        size += len(item) + len(separator)
    text = separator.join(shown)
    if len(shown) < len(items):
        text += separator + t(locale, "admin.config.more", count=len(items) - len(shown))
    return text


def mentions(ids: Iterable[int], template: str) -> list[str]:
    return [template.format(i) for i in sorted(ids)]


def channels_text(locale: str, config: GuildConfig) -> str:
    channels = config.policy.allowed_channels
    if not channels:
        return t(locale, "admin.channel.list_empty")
    return t(locale, "admin.channel.list", channels=_joined(mentions(channels, "<#{}>"), locale))


def roles_text(locale: str, config: GuildConfig) -> str:
    roles = config.policy.allowed_roles
    if not roles:
        return t(locale, "admin.role.list_empty")
    return t(locale, "admin.role.list", roles=_joined(mentions(roles, "<@&{}>"), locale))


def words_text(locale: str, words: Sequence[str]) -> str:
    if not words:
        return t(locale, "admin.words.list_empty")
    listed = _joined([f"`{w}`" for w in words], locale, separator=", ")
    return t(locale, "admin.words.list", count=len(words), words=listed)


# ---- jobs --------------------------------------------------------------------------------
def _job_line(locale: str, line: JobLine) -> str:
    job = line.job
    link = t(locale, "admin.jobs.no_link")
    if line.message is not None:
        link = jump_url(job.guild_id, line.message.channel_id, line.message.message_id)
    return t(
        locale,
        "admin.jobs.line",
        id=job.id,
        state=t(locale, f"admin.audit.job_state.{job.state}"),
        action=job.action,
        user=f"<@{job.requester_id}>",
        when=f"<t:{int(job.created_at)}:R>",
        link=link,
    )


def jobs_embed(locale: str, overview: JobsOverview) -> discord.Embed:
    embed = discord.Embed(title=t(locale, "admin.jobs.title"), colour=_COLOUR)
    sections = (
        (t(locale, "admin.jobs.in_flight", count=len(overview.in_flight)), overview.in_flight),
        (t(locale, "admin.jobs.recent"), overview.recent),
    )
    for name, lines in sections:
        text = _joined([_job_line(locale, line) for line in lines], locale, separator="\n")
        embed.add_field(name=name, value=text[:FIELD_LIMIT], inline=False)
    return embed


# ---- stats -------------------------------------------------------------------------------
def stats_message(locale: str, report: StatsReport) -> tuple[discord.Embed, discord.File]:
    summary = report.summary
    title = (
        t(locale, "admin.stats.title_today")
        if report.days == 1
        else t(locale, "admin.stats.title", days=report.days)
    )
    lines = [
        t(
            locale,
            "admin.stats.summary",
            jobs=t(locale, "admin.stats.jobs", count=summary.jobs),
            units=t(locale, "admin.stats.units", count=_num(summary.units)),
            failures=summary.failures,
        )
    ]
    if report.cost is None:
        lines.append(t(locale, "admin.stats.no_prices"))
    else:
        lines.append(t(locale, "admin.stats.cost", cost=f"{report.cost:.2f}"))
    if report.own_proxy_jobs:
        lines.append(t(locale, "proxies.stats.own", jobs=report.own_proxy_jobs))
    if summary.jobs == 0:
        lines.append(t(locale, "admin.stats.empty"))
    embed = discord.Embed(title=title, description="\n".join(lines), colour=_COLOUR)
    members = [
        t(
            locale,
            "admin.stats.member_line",
            user=f"<@{u.user_id}>",
            jobs=u.jobs,
            units=_num(u.units),
            failures=u.failures,
        )
        for u in summary.per_user
    ]
    actions = [
        t(
            locale,
            "admin.stats.action_line",
            action=a.action,
            jobs=a.jobs,
            units=_num(a.units),
            failures=a.failures,
        )
        for a in summary.per_action
    ]
    if members:
        embed.add_field(
            name=t(locale, "admin.stats.members"),
            value=_joined(members, locale, separator="\n"),
            inline=False,
        )
    if actions:
        embed.add_field(
            name=t(locale, "admin.stats.actions"),
            value=_joined(actions, locale, separator="\n"),
            inline=False,
        )
    embed.set_image(url="attachment://usage.png")
    embed.set_footer(text=t(locale, "admin.stats.chart"))
    return embed, discord.File(io.BytesIO(report.chart_png), filename="usage.png")


# ---- the whole configuration ---------------------------------------------------------------
def _weights(locale: str, weights: Mapping[str, float]) -> str:
    return _joined([f"{k} {_num(v)}" for k, v in sorted(weights.items())], locale, separator=", ")


def config_embed(locale: str, guild_name: str, config: GuildConfig) -> discord.Embed:
    policy = config.policy
    embed = discord.Embed(title=t(locale, "admin.config.title", guild=guild_name), colour=_COLOUR)

    def field(key: str, value: str) -> None:
        embed.add_field(name=t(locale, f"admin.config.{key}"), value=value[:FIELD_LIMIT] or "-")

    field("state", t(locale, "admin.config.paused" if policy.paused else "admin.config.active"))
    audit = policy.audit_channel_id
    field("audit", f"<#{audit}>" if audit else t(locale, "admin.off"))
    channels = mentions(policy.allowed_channels, "<#{}>")
    field("channels", _joined(channels, locale) if channels else t(locale, "admin.everywhere"))
    roles = mentions(policy.allowed_roles, "<@&{}>")
    field("roles", _joined(roles, locale) if roles else t(locale, "admin.everyone"))
    field(
        "quota",
        t(
            locale,
            "admin.config.quota_value",
            default=_limit(locale, policy.daily_quota),
            cap=_limit(locale, policy.guild_daily_cap),
        ),
    )
    field(
        "in_flight",
        t(
            locale,
            "admin.config.in_flight_value",
            per_user=_limit(locale, policy.max_jobs_per_user),
            per_guild=_limit(locale, policy.max_jobs_per_guild),
        ),
    )
    weights = {action: policy.units_for(action) for action in _shown_actions(policy.weights)}
    field("weights", _weights(locale, weights))
    field("prices", _weights(locale, config.prices))
    overrides = [f"<@{o.user_id}> {_limit(locale, o.daily_quota)}" for o in config.overrides]
    field("overrides", _joined(overrides, locale, separator=", "))
    bans = [
        t(locale, "admin.config.ban_line", user=f"<@{b.user_id}>", reason=b.reason or "-")
        for b in config.bans
    ]
    field("bans", _joined(bans, locale, separator="\n"))
    field("words", _joined([f"`{w}`" for w in config.banned_words], locale, separator=", "))
    return embed


def _shown_actions(weights: Mapping[str, float]) -> list[str]:
    return [*WEIGHT_ACTIONS, *(a for a in sorted(weights) if a not in WEIGHT_ACTIONS)]
