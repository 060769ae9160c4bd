"""Campaigns: a segment, channels and content; queued as outbox rows, one per member and channel."""

from __future__ import annotations


class CampaignError(ValueError):
    """A campaign that cannot be created, sent or cancelled as asked: the message says why."""
