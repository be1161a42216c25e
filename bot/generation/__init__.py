"""From what a member typed to a LiblibAI request: options and prompt flags, per-family mapping, restyle and
input-image preparation, result actions (reroll, vary, upscale), request fingerprints."""
