"""Which images feed Base Color, and swapping them for stylized ones (and back).

Only images that reach a Principled BSDF's Base Color (and, when the artist opts in, its
Emission, Subsurface, Sheen or Coat colour) through colour pass-through nodes
(mix, gamma, hue/saturation, brightness/contrast, curves, invert, reroute, and a
Separate Color whose three channels a Combine Color puts back unchanged) are colour:
normal, roughness, metallic and height maps feed other sockets and are never touched.
The search goes through node groups as an artist builds them: into a group whose
output feeds the BSDF (an image inside it), and out of a group that holds the BSDF (a
studio's "house shader") through its inputs to the image that feeds them; nested too.
An image inside a group is found once however many materials use the group, and is
relinked once, inside the group. Data from a library (a linked material or node group)
is never edited: `Found.linked` says why it is left alone.
The original image node stays in the tree, unchanged: the stylized image gets a node of
its own, and a Mix node between the two takes the original's place in the Base Color
path, so the artist can dial between before and after live (the material's
`brushwork_mix`, no job) and Revert moves the links back exactly as they were.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import bpy

ORIGINAL = "brushwork_original"   # on a stylized node: the name of the node it stands in for
STYLE = "brushwork_style"         # on a stylized node: the style image it was painted after
STRENGTH = "brushwork_strength"   # on a stylized node: the strength it was painted at
MIX = "brushwork_mix"             # on a Mix node: the name of the original node it mixes with ours
PASS_THROUGH = {"MIX", "MIX_RGB", "GAMMA", "HUE_SAT", "BRIGHTCONTRAST", "CURVE_RGB", "INVERT", "REROUTE"}
MAX_DEPTH = 64     # node hops from the BSDF (groups included): far beyond any real tree
MAX_NESTING = 16   # groups inside groups
# Principled BSDF inputs that carry colour besides Base Color, painted only when asked
# (an emission or sheen map is often a mask in disguise). Subsurface Color is Blender < 4.0's.
COLOUR_INPUTS = {"EMISSION": ("Emission Color", "Emission"), "SUBSURFACE": ("Subsurface Color",),
                 "SHEEN": ("Sheen Tint",), "COAT": ("Coat Tint",)}
EMISSION_SOCKETS = set(COLOUR_INPUTS["EMISSION"])


@dataclass
class Found:
    """An image node feeding Base Color (or an opted-in colour input), and the links out
    of it that lead there; the node may sit in the material's tree or in a node group's."""
    material: bpy.types.Material            # the first material it was found through
    tree: bpy.types.NodeTree                # the tree holding the node
    node: bpy.types.ShaderNodeTexImage      # the original image node (never a stylized one)
    links: list                             # links from the node now in the path (maybe our stylized node's)
    sockets: set = field(default_factory=set)   # the BSDF inputs it reaches ("Base Color", "Emission Color"…)

    @property
    def image(self) -> bpy.types.Image:
        return self.node.image

    @property
    def key(self) -> tuple[str, str, str]:
        """Where the node lives, by names that survive an undo: ("MATERIAL" | "GROUP", owner, node)."""
        return tree_key(self.material, self.tree) + (self.node.name,)

    @property
    def emission(self) -> bool:
        """Only ever light (every path ends at an Emission input): painted as light."""
        return bool(self.sockets) and self.sockets <= EMISSION_SOCKETS

    @property
    def linked(self) -> str | None:
        """Why this node cannot be edited (library data), or None."""
        return linked_reason(self.material) or (None if self.tree == self.material.node_tree
                                                 else linked_reason(self.tree, "node group"))


def tree_key(material, tree) -> tuple[str, str]:
    return ("MATERIAL", material.name) if tree == material.node_tree else ("GROUP", tree.name)


def linked_reason(block, what: str = "material") -> str | None:
    """Why a material or node group must not be edited: it lives in another .blend."""
    if block is None:
        return None
    if getattr(block, "library", None) is not None:
        return (f"{what} '{block.name}' is linked from {block.library.filepath} and is read-only here; "
                "to stylize it, make it local (Object > Relations > Make Local)")
    if getattr(block, "override_library", None) is not None:
        return (f"{what} '{block.name}' is a library override, whose nodes are not saved; "
                "to stylize it, make it local (Object > Relations > Make Local)")
    return None


def base_color_images(material: bpy.types.Material, extra: set[str] = frozenset()) -> list[Found]:
    """Image nodes whose Color reaches a Principled BSDF's Base Color, one entry per node;
    `extra`: keys of COLOUR_INPUTS whose sockets count too (the artist's opt-in)."""
    if not material or not material.use_nodes or not material.node_tree:
        return []
    found: dict[tuple, Found] = {}
    names = ["Base Color"] + [name for key in sorted(extra) for name in COLOUR_INPUTS[key]]
    for tree, path in trees(material.node_tree):
        for bsdf in tree.nodes:
            if bsdf.type == "BSDF_PRINCIPLED" and not bsdf.mute:
                for name in names:
                    socket = bsdf.inputs.get(name)
                    if socket is not None and socket.type == "RGBA":   # "Sheen Tint" was a factor before 4.0
                        _walk(socket, tree, path, found, material, name, 0, set())
    return list(found.values())


def trees(root, path: tuple = ()):
    """(tree, path) for the material's tree and every group tree inside it, once per group
    node that instances it: `path` is the (outer tree, group node) pairs that lead there."""
    yield root, path
    if len(path) >= MAX_NESTING:
        return
    for node in root.nodes:
        if node.type == "GROUP" and node.node_tree is not None and not node.mute:
            yield from trees(node.node_tree, path + ((root, node),))


def _walk(socket, tree, path: tuple, found: dict, material, target: str, depth: int, seen: set) -> None:
    """Follow `socket` (an input in `tree`) upstream to the image nodes whose colour reaches it."""
    if depth > MAX_DEPTH:
        return
    for link in socket.links:
        if not link.is_valid or link.is_muted:
            continue
        node, out = link.from_node, link.from_socket
        step = (tree.as_pointer(), node.name, out.identifier, tuple(n.as_pointer() for _, n in path))
        if step in seen:
            continue
        seen.add(step)
        if node.type == "TEX_IMAGE" and out.identifier == "Color" and node.image:
            original = tree.nodes.get(node.get(ORIGINAL, "")) or node
            entry = found.setdefault((tree.as_pointer(), original.name), Found(material, tree, original, []))
            if not any(link == seen_link for seen_link in entry.links):
                entry.links.append(link)
            entry.sockets.add(target)
        elif node.mute:
            continue
        elif node.type in PASS_THROUGH:
            for inp in node.inputs:
                if inp.is_linked and inp.type == "RGBA" and inp.enabled:
                    _walk(inp, tree, path, found, material, target, depth + 1, seen)
        elif node.type == "COMBINE_COLOR":
            separate = _unchanged_channels(node)
            if separate is not None:
                _walk(separate.inputs[0], tree, path, found, material, target, depth + 1, seen)
        elif node.type == "GROUP" and node.node_tree is not None and out.type == "RGBA":
            inner = node.node_tree   # into the group: from its output to what feeds it inside
            for group_out in inner.nodes:
                if group_out.type == "GROUP_OUTPUT" and group_out.is_active_output:
                    sock = next((s for s in group_out.inputs if s.identifier == out.identifier), None)
                    if sock is not None:
                        _walk(sock, inner, path + ((tree, node),), found, material, target, depth + 1, seen)
        elif node.type == "GROUP_INPUT" and path and out.type == "RGBA":
            outer, group_node = path[-1]   # out of the group: to what feeds this instance's input
            sock = next((s for s in group_node.inputs if s.identifier == out.identifier), None)
            if sock is not None:
                _walk(sock, outer, path[:-1], found, material, target, depth + 1, seen)


def _unchanged_channels(combine):
    """The Separate Color node whose three channels `combine` puts back in order and in
    the same mode (RGB, HSV or HSL), so its colour passes through unchanged; else None."""
    source = None
    for i, inp in enumerate(combine.inputs[:3]):
        if len(inp.links) != 1 or not inp.links[0].is_valid or inp.links[0].is_muted:
            return None
        link = inp.links[0]
        sep = link.from_node
        if (sep.type != "SEPARATE_COLOR" or sep.mute or sep.mode != combine.mode
                or list(sep.outputs).index(link.from_socket) != i or (source is not None and sep != source)):
            return None
        source = sep
    return source


def is_colour(image: bpy.types.Image) -> bool:
    """False for images Blender treats as data (Non-Color and the like)."""
    return not image.colorspace_settings.is_data


def use_stylized(found: Found, image: bpy.types.Image, style: str, strength: float) -> bpy.types.ShaderNodeTexImage:
    """Feed the Base Color path from a Mix of the original node (A) and a new node holding
    `image` (B), fully B; the original node stays. A second run only replaces B."""
    tree = found.tree
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


def editable_trees(material: bpy.types.Material) -> list:
    """The material's tree and the node groups inside it (each once) that this file may edit."""
    if not material or not material.node_tree or linked_reason(material):
        return []
    unique = {}
    for tree, _ in trees(material.node_tree):
        if tree == material.node_tree or not linked_reason(tree, "node group"):
            unique.setdefault(tree.as_pointer(), tree)
    return list(unique.values())


def mixes(material: bpy.types.Material) -> list[bpy.types.ShaderNodeMix]:
    """Our before/after Mix nodes in the material and its node groups (a group's are
    shared by every material that uses the group)."""
    return [n for tree in editable_trees(material) for n in tree.nodes if n.get(MIX)]


def set_mix(material: bpy.types.Material, factor: float) -> None:
    """Every before/after Mix of the material at `factor` (0 the original, 1 the stylized)."""
    for mix in mixes(material):
        _socket(mix.inputs, "Factor_Float").default_value = factor


def painted_strength(material: bpy.types.Material) -> float | None:
    """The strength the material's stylized images were painted at (None: none is)."""
    return next((n[STRENGTH] for tree in editable_trees(material) for n in tree.nodes
                 if n.get(ORIGINAL) and STRENGTH in n), None)


def revert(material: bpy.types.Material) -> int:
    """Move every link from our Mix (or, from earlier versions, stylized) nodes back to
    their originals and remove ours, in the material's tree and its node groups; returns
    how many stylized nodes went.

    The stylized images stay in the file (and on disk) until Blender purges unused data.
    """
    return sum(_revert_tree(tree) for tree in editable_trees(material))


def _revert_tree(tree) -> int:
    outputs = [(mix, _socket(mix.outputs, "Result_Color"), mix[MIX]) for mix in tree.nodes if mix.get(MIX)]
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
    "SELECTED" every material of the selected objects, "SCENE" of all the scene's objects;
    objects shown through a collection instance (an Empty instancing a collection, linked
    or local) count as the instancer's."""
    if scope == "ACTIVE":
        obj = context.active_object
        return [obj.active_material] if obj and obj.active_material else []
    objects = context.selected_objects if scope == "SELECTED" else context.scene.objects
    mats = []
    for obj in _with_instances(objects):
        for slot in getattr(obj, "material_slots", []):
            if slot.material and slot.material not in mats:
                mats.append(slot.material)
    return mats


def _with_instances(objects) -> list:
    """`objects` and, for each that instances a collection, that collection's objects (nested too)."""
    out, seen = [], set()

    def add(obj, depth: int) -> None:
        if obj.as_pointer() in seen:
            return
        seen.add(obj.as_pointer())
        out.append(obj)
        coll = obj.instance_collection if obj.instance_type == "COLLECTION" else None
        if coll is not None and depth < MAX_NESTING:
            for inner in coll.all_objects:
                add(inner, depth + 1)

    for obj in objects:
        add(obj, 0)
    return out
