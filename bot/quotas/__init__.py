"""Quotas and server administration: limits, server settings, banned words, the prompt log."""

from bot.quotas.management import GuildAdminService, SettingsChangeError
from bot.quotas.policy import GuildConfig, Policy, ScopeConfig
from bot.quotas.service import QuotaService, TopReport, UsageReport
from bot.quotas.windows import Windows, current_windows, get_zone
from bot.quotas.words import WordMatcher

__all__ = [
    "GuildAdminService",
    "GuildConfig",
    "Policy",
    "QuotaService",
    "ScopeConfig",
    "SettingsChangeError",
    "TopReport",
    "UsageReport",
    "Windows",
    "WordMatcher",
    "current_windows",
    "get_zone",
]
