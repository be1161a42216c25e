"""What the simulated API answers: the ``{code, msg, data}`` envelope, the real services' messages, and the
HTTP status an envelope travels with (liblib-api.md §3)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiohttp import web

from bot.liblib.simulator.validate import invalid

MSG_AUTH = "签名验证失败"
MSG_FORBIDDEN = "访问拒绝"
MSG_RATE = "请求过多，请稍后重试"
MSG_CONCURRENCY = "当前进行中任务数量已达到并发任务上限"
MSG_POINTS = "用户积分不足"
MSG_SENSITIVE = "提示词中包含敏感内容"
MSG_UNREACHABLE = "图片地址无法访问，或大小超出限制"
MSG_BAD_IMAGE = "图片包含违规内容"


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    msg: str = ""
    data: object = None
    headers: dict[str, str] | None = None


def invalid_reply(field_name: str) -> Reply:
    rejection = invalid(field_name)
    return Reply(rejection.code, rejection.msg)


def dumps(reply: Reply) -> str:
    return json.dumps({"code": reply.code, "msg": reply.msg, "data": reply.data}, ensure_ascii=False)


def respond(reply: Reply, *, http_error_statuses: bool) -> web.Response:
    """The envelope as HTTP 200, or with its own status for 401/403/429 when ``http_error_statuses``."""
    status = reply.code if http_error_statuses and reply.code in (401, 403, 429) else 200
    return web.Response(text=dumps(reply), status=status, headers=reply.headers, content_type="application/json")
