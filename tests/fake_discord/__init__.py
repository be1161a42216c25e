"""A loopback fake Discord (REST API v10 + gateway) that the real discord.py 2.7 client runs against in tests.

Recipe and traps: ``../shared/discord-harness.md``. Typical use::

    async with FakeDiscord() as fake, run_bot(make_bot(guild_id=fake.guild_id), fake) as bot:
        interaction = await fake.slash("imagine", {"prompt": "fox"})
        await fake.wait_for_ack(interaction)                    # the callback, e.g. {"type": 5}
        call = await fake.wait_for_call(lambda c: c.method == "PATCH" and c.route.endswith("@original"))
        assert fake.spec_errors == [] and fake.unexpected == []

Modules: ``server`` (FakeDiscord: HTTP plumbing, recording, faults), ``rest`` (route handlers), ``driver``
(slash/click/modal/user_message...), ``state`` (guild, members, messages, interactions, commands),
``gateway`` (websocket), ``payloads`` (wire builders), ``messages`` (Discord's body limits), ``spec``
(OpenAPI validation), ``fixtures`` (run_bot).

World: guild ``guild_id`` with text channel ``channel_id``; members ``user_id`` ("alice", plain @everyone
permissions), ``admin_id`` ("admin", Admin role + guild owner), ``owner_id`` ("owner", the application's
owner, plain permissions) and the bot ``bot_user_id`` (== ``application_id``).
"""

from .fixtures import run_bot
from .records import Call, Interaction, UploadedFile
from .server import FakeDiscord

__all__ = ["Call", "FakeDiscord", "Interaction", "UploadedFile", "run_bot"]
