"""Simplified Chinese (zh-CN). Keys are the English texts; ``{fields}`` must match the English ones."""

from __future__ import annotations

# Command, group and option names (Discord: lowercase, no spaces, at most 32 characters).
NAMES: dict[str, str] = {
    "imagine": "绘图",
    "prompt": "提示词",
    "mode": "模式",
    "negative": "反向提示词",
    "aspect": "画幅",
    "count": "数量",
    "seed": "种子",
    "steps": "步数",
    "image": "图片",
    "control_image": "控制图",
    "control_type": "控制类型",
    "restyle": "重绘",
    "strength": "强度",
    "mask": "蒙版",
    "reference": "参考图",
    "reference2": "参考图2",
    "reference3": "参考图3",
    "Restyle image": "重绘这张图",
    "fresh": "重新生成",
    "help": "帮助",
    "models": "模型",
    "queue": "队列",
    "jobs": "我的任务",
    "show": "展示",
    "job": "任务",
}

# Descriptions, choice names and messages.
TEXTS: dict[str, str] = {
    "Generate images from a prompt": "根据提示词生成图片",
    "What to draw (English for Star-3 and custom models)": "要画什么（星流 Star-3 与自定义模型建议用英文）",
    "Model: star3, kontext-pro, kontext-max or a configured custom model": "模型：star3、kontext-pro、kontext-max 或已配置的自定义模型",
    "What to avoid (custom models)": "不希望出现的内容（自定义模型）",
    "Aspect ratio": "画面比例",
    "How many images (1-4)": "生成几张（1-4）",
    "Seed for reproducible results (custom models)": "随机种子，用于复现结果（自定义模型）",
    "Sampling steps (Star-3 and custom models)": "采样步数（Star-3 与自定义模型）",
    "An image to start from (image-to-image)": "作为起点的图片（图生图）",
    "A structure reference (line, depth, pose, ...)": "结构参考图（线稿、深度、姿势等）",
    "How the control image guides the result": "控制图如何引导结果",
    "Restyle or edit an image with an instruction": "按指令重绘或编辑一张图片",
    "The image to restyle (PNG, JPEG, WebP or GIF, up to 10 MB)": "要重绘的图片（PNG、JPEG、WebP 或 GIF，最大 10 MB）",
    "What to change, e.g. 'make it cyberpunk, keep the pose'": "要改什么，例如“改成赛博朋克风格，保持姿势”",
    "Model: kontext-pro (default), kontext-max, star3 or a configured custom model": "模型：kontext-pro（默认）、kontext-max、star3 或已配置的自定义模型",
    "How far to move from the image, 0-1 (custom models only)": "偏离原图的程度，0-1（仅自定义模型）",
    "Inpainting mask: white where to repaint, same size as the image (custom models)": "局部重绘蒙版：白色处重绘，尺寸须与原图相同（自定义模型）",
    "An extra reference image (Kontext max)": "额外的参考图（Kontext max）",
    "Another reference image (Kontext max)": "另一张参考图（Kontext max）",
    "Render again even if the same seeded request was rendered recently (re-posted otherwise)": (
        "即使最近用同一种子生成过相同请求也重新生成（否则直接重发已有结果）"
    ),
    "How to use the bot, with examples": "使用说明与示例",
    "The modes and models you can use, and what each supports": "可用的模式与模型及其支持的功能",
    "What this server is waiting for, with estimated waits": "本服务器的排队情况与预计等待时间",
    "Your recent jobs: status, cost and links": "你最近的任务：状态、消耗与链接",
    "Post a past job's result again, with its buttons": "重新发送某个历史任务的结果（附带按钮）",
    "The job id (shown under every result, e.g. 3f9a0c12be)": "任务编号（显示在每个结果下方，例如 3f9a0c12be）",
}
