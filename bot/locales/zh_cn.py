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
}
