"""A local aiohttp server that behaves like the LiblibAI open API (liblib-api.md §12).

Used by the bot's offline mode and by every test and benchmark. It verifies signatures (§2.4), enforces
the per-AccessKey submit QPS and concurrent-task cap (§9), validates parameters (§5), runs each task
through statuses 1→2→3→4→5 in real time, renders real PNGs (marked SIMULATED; image-to-image ones painted
from the input), fetches input images like the real service, and stands in for the OSS upload (§7). Every
answer carries the ``X-Liblib-Simulator: 1`` header (``endpoints.SIMULATOR_HEADER``), which the real API never
sends: a client that sees it knows its results are simulated. Faults, task outcomes and task billings (a cost
whatever the outcome, or a status without ``pointsCost``) can be injected from tests or over HTTP
(``/_sim/*``, unauthenticated, simulator only).

Choices where the real service is unknown, kept deliberately:
* Each family is only served by its own status route (webui tasks on ``/webui/status``, Kontext, Seedream,
  libDream and IMG1 on ``/api/generate/status``, ComfyUI workflows on ``/api/generate/comfy/status``); any
  other status route answers 100051, so a client polling the wrong route fails loudly here.
* The newer families' prices are the bot's estimates (the docs give none), and their render times scale
  with the family (a Seedream group, IMG1's quality).
* The submit QPS token is spent by every submit that passes the rate gate, even one later refused for
  its parameters: the gateway counts requests, not tasks.
* Injected "timeout" and "truncated" faults on a submit still create the task (the request was
  processed, the answer was lost or cut); "malformed", "429", "5xx" and the code faults do not.

Modules: ``server`` (the app, its lifecycle and test controls), ``routes`` (the API routes), ``auth``,
``faults``, ``replies``, ``tasks`` (task life cycle), ``validate``, ``images``, ``oss``, ``comfy`` (ComfyUI
workflows: their checks, outputs and videos).
"""

from bot.liblib.simulator.auth import DEV_ACCESS_KEY, DEV_SECRET_KEY
from bot.liblib.simulator.faults import FAULTS
from bot.liblib.simulator.routes import SENSITIVE_WORD
from bot.liblib.simulator.server import OUTCOMES, Simulator, run_forever
from bot.liblib.simulator.tasks import SimCounters, SimImage, SimTask

__all__ = [
    "DEV_ACCESS_KEY",
    "DEV_SECRET_KEY",
    "FAULTS",
    "OUTCOMES",
    "SENSITIVE_WORD",
    "SimCounters",
    "SimImage",
    "SimTask",
    "Simulator",
    "run_forever",
]
