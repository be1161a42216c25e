"""Member attachments as source images: what Discord declared about them, checked by ``SourceRef.check``.

/imagine, /restyle and reply + mention alike turn attachments into ``SourceRef``s here; the images are
then fetched through the allowlisted ``SourceImageFetcher`` (``bot.generation.restyle.SourcePublisher``),
never read through discord.py, so one size limit, host allowlist and set of errors applies everywhere.
"""

from __future__ import annotations

import discord

from bot.media.sources import SourceRef


def attachment_ref(attachment: discord.Attachment, field: str) -> SourceRef:
    return SourceRef(
        attachment.url,
        field=field,
        size=attachment.size,
        content_type=attachment.content_type,
        filename=attachment.filename,
    )


def checked_ref(attachment: discord.Attachment | None, field: str) -> SourceRef | None:
    """An optional attachment as a source image, its metadata checked (no I/O)."""
    if attachment is None:
        return None
    ref = attachment_ref(attachment, field)
    ref.check()
    return ref
