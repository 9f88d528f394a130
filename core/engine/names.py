"""Each method's name and the words a front end shows for it, in menu order.

No imports at all: listing the methods loads neither numpy nor a network, and the
Blender add-on imports this file from inside the extension package, where the rest of
core (absolute `core.…` imports) is not importable. core/engine/methods.py defines a
`Method` for each name here (tests/test_engine.py checks both ways).
"""

# name → (number, label, description). The number is what a saved .blend stores for the
# add-on's menu item: never reuse or change one, so a saved choice keeps its meaning.
METHOD_INFO = {
    "linear-r31": (1, "Linear r31", "Linear style transfer at relu3_1: finer strokes, more structure"),
    "linear-r41": (2, "Linear r41", "Linear style transfer at relu4_1 with a decoder of its own: the boldest, coarsest strokes"),
    "ccpl": (3, "CCPL r41", "CCPL at relu4_1 with a decoder of its own: bold strokes that keep shapes readable"),
    "ccpl-r31": (4, "CCPL r31", "CCPL at relu3_1 with a decoder of its own: calmer detail, less flicker"),
    "wct-r31": (5, "WCT r31", "Whitening-colouring at relu3_1: closed form, no learned transform"),
    "wct": (6, "WCT r41", "Whitening-colouring at relu4_1: closed form, no learned transform"),
}

# name → the weight files in models/ it needs. Only trained networks ship, so a front end
# offers a method exactly when all its files are there (no import, no hashing: the
# engine checks each file's sha256 when it loads it).
METHOD_FILES = {
    "linear-r31": ("encoder_r31.safetensors", "linear_r31.safetensors", "decoder_r31.safetensors"),
    "linear-r41": ("encoder_r41.safetensors", "linear_r41.safetensors", "linear_decoder_r41.safetensors"),
    "ccpl": ("encoder_r41.safetensors", "ccpl_r41.safetensors", "ccpl_decoder_r41.safetensors"),
    "ccpl-r31": ("encoder_r31.safetensors", "ccpl_r31.safetensors", "ccpl_decoder_r31.safetensors"),
    "wct-r31": ("encoder_r31.safetensors", "decoder_r31.safetensors"),
    "wct": ("encoder_r41.safetensors", "decoder_r41.safetensors"),
}
