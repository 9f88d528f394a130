"""Every Brushwork panel: the main one in the 3D View sidebar and the material tab (one
draw for both), and a short one in the Video Sequencer's sidebar for movie strips."""
import bpy

from . import gallery, learned, materials, plan, preferences, previews, sequencer
from .choices import style_path
from .operators import learn, movie, preview, renders, textures


def draw_style(col, settings) -> None:
    """The style: a gallery painting, credited with its licence, or any file (Browse…)."""
    col.row().prop(settings, "style_source", expand=True)
    if settings.style_source == "GALLERY":
        col.template_icon_view(settings, "style_gallery", show_labels=True, scale=8.0, scale_popup=6.0)
        painting = gallery.find(settings.style_gallery)
        if painting:
            col.label(text=painting.title)
            col.label(text=f"{painting.artist}, {painting.year}")
            col.label(text=f"Public domain: {painting.licence}", icon="INFO")
        return
    col.prop(settings, "style_image")
    icon = previews.icon_id(settings.style_image)
    if icon:
        col.template_icon(icon_value=icon, scale=6.0)


def draw_before_after(col, context) -> None:
    """The active material's before/after slider, once it holds a stylized texture."""
    mat = context.object.active_material if context.object else None
    if not materials.mixes(mat):
        return
    box = col.box().column(align=True)
    box.prop(mat, "brushwork_mix", slider=True)
    box.label(text="The slider mixes pixels, live;")
    box.label(text="Strength re-paints in feature space:")
    op = box.operator(textures.BRUSHWORK_OT_stylize_texture.bl_idname, icon="BRUSH_DATA",
                      text=f"Apply Strength {mat.brushwork_mix * (materials.painted_strength(mat) or 1):.2f}")
    op.apply_strength = True


def draw_preview(col, state) -> None:
    """The quick preview, once there is one: its picture and what it is a preview of."""
    image = bpy.data.images.get(previews.PREVIEW_IMAGE)
    if not state.preview or image is None:
        return
    box = col.box().column(align=True)
    box.label(text=f"Preview {state.preview}", icon="HIDE_OFF")
    icon = previews.icon_id(image.filepath)
    if icon:
        box.template_icon(icon_value=icon, scale=8.0)
    box.label(text="Finer strokes at full size.")
    row = box.row(align=True)
    row.operator(textures.BRUSHWORK_OT_stylize_texture.bl_idname, text="Full Size", icon="BRUSH_DATA")
    row.operator(preview.BRUSHWORK_OT_discard_preview.bl_idname, text="", icon="X")


def draw_scope(col, context, settings) -> None:
    """Whose maps Stylize paints, and whether they share one transformation (one palette)."""
    col.prop(settings, "scope")
    col.label(text="Also paint colour from:")
    col.row(align=True).prop(settings, "colour_inputs")
    col.prop(settings, "one_look")
    count = plan.map_count(context, settings)
    if count > 1:
        col.label(text=f"One transformation for all {count} maps" if settings.one_look
                  else "Each map its own statistics", icon="INFO")


def draw_learn(col, settings, running: bool) -> None:
    """Learn This Painting (the default method tuned to the painting, once), or the badge
    saying a learned model paints this painting, and Forget."""
    if settings.method not in ("AUTO", "CCPL_R31"):
        return
    meta = learned.status(style_path(settings), preferences.learned_dir())
    box = col.box().column(align=True)
    if meta:
        row = box.row(align=True)
        row.label(text=learned.describe(meta), icon="CHECKMARK")
        row.operator(learn.BRUSHWORK_OT_forget_painting.bl_idname, text="", icon="X")
        return
    row = box.row(align=True)
    row.enabled = not running
    row.operator(learn.BRUSHWORK_OT_learn_painting.bl_idname, icon="MOD_SMOOTH",
                 text=f"Learn This Painting (~{settings.learn_minutes:g} min)")
    row.prop(settings, "learn_minutes", text="")
    box.label(text="Needs PyTorch (add-on Preferences: Install)", icon="INFO")


def draw(layout, context) -> None:
    settings = context.scene.brushwork
    state = context.window_manager.brushwork_job
    col = layout.column()
    draw_style(col, settings)
    draw_learn(col, settings, state.running)
    col.prop(settings, "method")
    col.prop(settings, "strength", slider=True)
    col.prop(settings, "style_scale")
    col.prop(settings, "preserve_color")
    col.prop(settings, "tileable")
    col.prop(settings, "device")
    col.separator()
    draw_scope(col, context, settings)
    col.prop(settings, "pack")
    col.separator()
    if state.running:
        if hasattr(col, "progress"):
            col.progress(factor=state.progress, type="BAR", text=state.status.removeprefix("Brushwork: "))
        else:  # Blender before 4.0 has no progress widget; the status line still shows it
            col.label(text=f"{state.status} {state.progress:.0%}")
        col.operator(textures.BRUSHWORK_OT_cancel.bl_idname, icon="CANCEL")
    else:
        row = col.row(align=True)
        row.scale_y = 1.4
        row.operator(textures.BRUSHWORK_OT_stylize_texture.bl_idname, icon="BRUSH_DATA")
        row.operator(preview.BRUSHWORK_OT_preview_texture.bl_idname, icon="HIDE_OFF")
        draw_preview(col, state)
        draw_before_after(col, context)
        col.operator(textures.BRUSHWORK_OT_revert_texture.bl_idname, icon="LOOP_BACK")
        col.separator()
        col.label(text="Renders")
        col.prop(settings, "auto_stylize")
        col.prop(settings, "depth_aware")
        if settings.depth_aware:
            sub = col.column(align=True)
            sub.prop(settings, "focus_distance")
            sub.prop(settings, "falloff")
            sub.prop(settings, "depth_side")
            sub.prop(settings, "far_scale")
        col.operator(renders.BRUSHWORK_OT_stylize_render.bl_idname, icon="RENDER_RESULT")
        col.prop(settings, "coherence", slider=True)
        col.operator(renders.BRUSHWORK_OT_stylize_animation.bl_idname, icon="RENDER_ANIMATION")
        row = col.row(align=True)
        row.operator(renders.BRUSHWORK_OT_stylize_panorama.bl_idname, icon="WORLD")
        row.operator(renders.BRUSHWORK_OT_stylize_panorama.bl_idname, text="",
                     icon="RENDER_ANIMATION").animation = True
        col.separator()
        col.label(text="Movies")
        col.prop(settings, "movie_file")
        col.prop(settings, "movie_coherence")
        col.operator(movie.BRUSHWORK_OT_stylize_movie_clip.bl_idname, icon="FILE_MOVIE")


class _Sidebar:
    """A panel in its editor's sidebar (N), under a Brushwork tab of its own."""
    bl_label = "Brushwork"
    bl_region_type = "UI"
    bl_category = "Brushwork"


class VIEW3D_PT_brushwork(_Sidebar, bpy.types.Panel):
    bl_space_type = "VIEW_3D"

    def draw(self, context):
        draw(self.layout, context)


class MATERIAL_PT_brushwork(bpy.types.Panel):
    bl_label = "Brushwork"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "material"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return context.material is not None

    def draw(self, context):
        draw(self.layout, context)


class SEQUENCER_PT_brushwork(_Sidebar, bpy.types.Panel):
    """Stylize Movie Clip where the strips are: the Video Sequencer's sidebar."""
    bl_space_type = "SEQUENCE_EDITOR"

    def draw(self, context):
        settings = context.scene.brushwork
        col = self.layout.column()
        draw_style(col, settings)
        col.prop(settings, "method")
        col.prop(settings, "strength", slider=True)
        col.prop(settings, "movie_coherence")
        strip = sequencer.active_movie_strip(context.scene)
        col.label(text=f"Strip: {strip.name}" if strip else "Make a movie strip active", icon="SEQUENCE")
        row = col.row()
        row.enabled = strip is not None
        row.operator(movie.BRUSHWORK_OT_stylize_movie_clip.bl_idname, icon="FILE_MOVIE").use_strip = True


CLASSES = (VIEW3D_PT_brushwork, MATERIAL_PT_brushwork, SEQUENCER_PT_brushwork)


register, unregister = bpy.utils.register_classes_factory(CLASSES)
