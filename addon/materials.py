"""Which images feed Base Color, and swapping them for stylized ones (and back).

Only images that reach a Principled BSDF's Base Color through colour pass-through nodes
(mix, gamma, hue/saturation, brightness/contrast, curves, invert, reroute) are colour:
normal, roughness, metallic and height maps feed other sockets and are never touched.
The original image node stays in the tree, unchanged: the stylized image gets a node of
its own and only the link into the Base Color path moves, so Revert moves it back.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy

ORIGINAL = "brushwork_original"   # on a stylized node: the name of the node it stands in for
STYLE = "brushwork_style"         # on a stylized node: the style image it was painted after
PASS_THROUGH = {"MIX", "MIX_RGB", "GAMMA", "HUE_SAT", "BRIGHTCONTRAST", "CURVE_RGB", "INVERT", "REROUTE"}
MAX_DEPTH = 8


@dataclass
class Found:
    """An image node feeding Base Color, and the links out of it that lead there."""
    material: bpy.types.Material
    node: bpy.types.ShaderNodeTexImage      # the original image node (never a stylized one)
    links: list                             # links from the node now in the path (maybe our stylized node's)

    @property
    def image(self) -> bpy.types.Image:
        return self.node.image


def base_color_images(material: bpy.types.Material) -> list[Found]:
    """Image nodes whose Color reaches a Principled BSDF's Base Color, one entry per node."""
    if not material or not material.use_nodes or not material.node_tree:
        return []
    tree = material.node_tree
    found: dict[str, Found] = {}
    for bsdf in tree.nodes:
        if bsdf.type == "BSDF_PRINCIPLED":
            _walk(tree, bsdf.inputs["Base Color"], found, material, 0)
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


def use_stylized(found: Found, image: bpy.types.Image, style: str) -> bpy.types.ShaderNodeTexImage:
    """Feed the Base Color path from a new node holding `image`; the original node stays."""
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
    node[ORIGINAL] = src.name
    node[STYLE] = style
    vector = src.inputs["Vector"]
    if vector.is_linked:
        tree.links.new(vector.links[0].from_socket, node.inputs["Vector"])
    previous = set()
    for link in found.links:
        if link.from_node != src:
            previous.add(link.from_node.name)  # a stylized node from an earlier run: replaced
        tree.links.new(node.outputs["Color"], link.to_socket)
    for name in previous:
        tree.nodes.remove(tree.nodes[name])
    return node


def revert(material: bpy.types.Material) -> int:
    """Move every link from our stylized nodes back to their originals; returns how many nodes.

    The stylized images stay in the file (and on disk) until Blender purges unused data.
    """
    if not material or not material.node_tree:
        return 0
    tree = material.node_tree
    done = 0
    for node in [n for n in tree.nodes if n.get(ORIGINAL)]:
        original = tree.nodes.get(node[ORIGINAL])
        if original is None:
            continue  # the artist deleted the original: keep the stylized one rather than nothing
        for link in list(node.outputs["Color"].links):
            tree.links.new(original.outputs["Color"], link.to_socket)
        tree.nodes.remove(node)
        done += 1
    return done


def materials_of(context, selected_objects: bool) -> list[bpy.types.Material]:
    """The active object's active material, or every material of the selected objects."""
    if not selected_objects:
        obj = context.active_object
        return [obj.active_material] if obj and obj.active_material else []
    mats = []
    for obj in context.selected_objects:
        for slot in getattr(obj, "material_slots", []):
            if slot.material and slot.material not in mats:
                mats.append(slot.material)
    return mats
