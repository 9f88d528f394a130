"""Which images feed Base Color, and swapping them for stylized ones (and back).

Only images that reach a Principled BSDF's Base Color (and, when the artist opts in, its
Emission, Subsurface, Sheen or Coat colour) through colour pass-through nodes
(mix, gamma, hue/saturation, brightness/contrast, curves, invert, reroute) are colour:
normal, roughness, metallic and height maps feed other sockets and are never touched.
The original image node stays in the tree, unchanged: the stylized image gets a node of
its own, and a Mix node between the two takes the original's place in the Base Color
path, so the artist can dial between before and after live (the material's
`brushwork_mix`, no job) and Revert moves the links back exactly as they were.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy

ORIGINAL = "brushwork_original"   # on a stylized node: the name of the node it stands in for
STYLE = "brushwork_style"         # on a stylized node: the style image it was painted after
STRENGTH = "brushwork_strength"   # on a stylized node: the strength it was painted at
MIX = "brushwork_mix"             # on a Mix node: the name of the original node it mixes with ours
PASS_THROUGH = {"MIX", "MIX_RGB", "GAMMA", "HUE_SAT", "BRIGHTCONTRAST", "CURVE_RGB", "INVERT", "REROUTE"}
MAX_DEPTH = 8
# Principled BSDF inputs that carry colour besides Base Color, painted only when asked
# (an emission or sheen map is often a mask in disguise). Subsurface Color is Blender < 4.0's.
COLOUR_INPUTS = {"EMISSION": ("Emission Color", "Emission"), "SUBSURFACE": ("Subsurface Color",),
                 "SHEEN": ("Sheen Tint",), "COAT": ("Coat Tint",)}


@dataclass
class Found:
    """An image node feeding Base Color, and the links out of it that lead there."""
    material: bpy.types.Material
    node: bpy.types.ShaderNodeTexImage      # the original image node (never a stylized one)
    links: list                             # links from the node now in the path (maybe our stylized node's)

    @property
    def image(self) -> bpy.types.Image:
        return self.node.image


def base_color_images(material: bpy.types.Material, extra: set[str] = frozenset()) -> list[Found]:
    """Image nodes whose Color reaches a Principled BSDF's Base Color, one entry per node;
    `extra`: keys of COLOUR_INPUTS whose sockets count too (the artist's opt-in)."""
    if not material or not material.use_nodes or not material.node_tree:
        return []
    tree = material.node_tree
    found: dict[str, Found] = {}
    names = ["Base Color"] + [name for key in sorted(extra) for name in COLOUR_INPUTS[key]]
    for bsdf in tree.nodes:
        if bsdf.type == "BSDF_PRINCIPLED":
            for name in names:
                socket = bsdf.inputs.get(name)
                if socket is not None and socket.type == "RGBA":   # "Sheen Tint" was a factor before 4.0
                    _walk(tree, socket, found, material, 0)
    return list(found.values())


def _walk(tree, socket, found: dict, material, depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    for link in socket.links:
        if not link.is_valid or link.is_muted:
            continue
        node = link.from_node
        if node.type == "TEX_IMAGE" and link.from_socket.identifier == "Color" and node.image:
            original = tree.nodes.get(node.get(ORIGINAL, "")) or node
            entry = found.setdefault(original.name, Found(material, original, []))
            entry.links.append(link)
        elif node.type in PASS_THROUGH and not node.mute:
            for inp in node.inputs:
                if inp.is_linked and inp.type == "RGBA" and inp.enabled:
                    _walk(tree, inp, found, material, depth + 1)


def is_colour(image: bpy.types.Image) -> bool:
    """False for images Blender treats as data (Non-Color and the like)."""
    return not image.colorspace_settings.is_data


def use_stylized(found: Found, image: bpy.types.Image, style: str, strength: float) -> bpy.types.ShaderNodeTexImage:
    """Feed the Base Color path from a Mix of the original node (A) and a new node holding
    `image` (B), fully B; the original node stays. A second run only replaces B."""
    tree = found.material.node_tree
    src = found.node
    node = tree.nodes.new("ShaderNodeTexImage")
    node.image = image
    node.name = node.label = f"{src.name} (Brushwork)"
    node.location = (src.location.x, src.location.y - 300)
    node.width = src.width
    for prop in ("interpolation", "projection", "projection_blend", "extension"):
        setattr(node, prop, getattr(src, prop))
    node.parent = src.parent
    node[ORIGINAL], node[STYLE], node[STRENGTH] = src.name, style, strength
    vector = src.inputs["Vector"]
    if vector.is_linked:
        tree.links.new(vector.links[0].from_socket, node.inputs["Vector"])
    stale = {link.from_node.name for link in found.links if link.from_node != src}  # earlier runs' nodes
    mix = next((link.to_node for link in found.links if link.to_node.get(MIX) == src.name), None)
    if mix is None:
        targets = [link.to_socket for link in found.links]
        mix = _new_mix(tree, src)
        for socket in targets:
            tree.links.new(_socket(mix.outputs, "Result_Color"), socket)
        tree.links.new(src.outputs["Color"], _socket(mix.inputs, "A_Color"))
    tree.links.new(node.outputs["Color"], _socket(mix.inputs, "B_Color"))
    _socket(mix.inputs, "Factor_Float").default_value = 1.0
    for name in stale:
        tree.nodes.remove(tree.nodes[name])
    return node


def _new_mix(tree, src) -> bpy.types.ShaderNodeMix:
    mix = tree.nodes.new("ShaderNodeMix")
    mix.data_type, mix.blend_type = "RGBA", "MIX"
    mix.name, mix.label = f"{src.name} (Brushwork mix)", "Before / After"
    mix.location = (src.location.x + src.width + 60, src.location.y - 150)
    mix.parent = src.parent
    mix[MIX] = src.name
    return mix


def _socket(sockets, identifier: str):
    """A Mix node's sockets share names across data types ("A" float, vector, colour): by identifier."""
    return next(s for s in sockets if s.identifier == identifier)


def mixes(material: bpy.types.Material) -> list[bpy.types.ShaderNodeMix]:
    """Our before/after Mix nodes in the material."""
    tree = material.node_tree if material else None
    return [n for n in tree.nodes if n.get(MIX)] if tree else []


def set_mix(material: bpy.types.Material, factor: float) -> None:
    """Every before/after Mix of the material at `factor` (0 the original, 1 the stylized)."""
    for mix in mixes(material):
        _socket(mix.inputs, "Factor_Float").default_value = factor


def painted_strength(material: bpy.types.Material) -> float | None:
    """The strength the material's stylized images were painted at (None: none is)."""
    tree = material.node_tree if material else None
    return next((n[STRENGTH] for n in tree.nodes if n.get(ORIGINAL) and STRENGTH in n), None) if tree else None


def revert(material: bpy.types.Material) -> int:
    """Move every link from our Mix (or, from earlier versions, stylized) nodes back to
    their originals and remove ours; returns how many stylized nodes went.

    The stylized images stay in the file (and on disk) until Blender purges unused data.
    """
    if not material or not material.node_tree:
        return 0
    tree = material.node_tree
    outputs = [(mix, _socket(mix.outputs, "Result_Color"), mix[MIX]) for mix in mixes(material)]
    outputs += [(n, n.outputs["Color"], n[ORIGINAL]) for n in tree.nodes if n.get(ORIGINAL)]
    done = 0
    for node, output, original_name in outputs:
        original = tree.nodes.get(original_name)
        if original is None:
            continue  # the artist deleted the original: keep ours rather than nothing
        for link in list(output.links):
            tree.links.new(original.outputs["Color"], link.to_socket)
        done += bool(node.get(ORIGINAL))
        tree.nodes.remove(node)
    return done


def materials_of(context, scope: str) -> list[bpy.types.Material]:
    """The materials a scope names: "ACTIVE" the active object's active material,
    "SELECTED" every material of the selected objects, "SCENE" of all the scene's objects."""
    if scope == "ACTIVE":
        obj = context.active_object
        return [obj.active_material] if obj and obj.active_material else []
    objects = context.selected_objects if scope == "SELECTED" else context.scene.objects
    mats = []
    for obj in objects:
        for slot in getattr(obj, "material_slots", []):
            if slot.material and slot.material not in mats:
                mats.append(slot.material)
    return mats
