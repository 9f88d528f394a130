"""The Brushwork panel, in the 3D View sidebar and the material tab: one draw for both."""
import bpy

from . import movie_operators, operators, previews, render_operators


def draw(layout, context) -> None:
    settings = context.scene.brushwork
    state = context.window_manager.brushwork_job
    col = layout.column()
    col.prop(settings, "style_image")
    icon = previews.icon_id(settings.style_image)
    if icon:
        col.template_icon(icon_value=icon, scale=6.0)
    col.prop(settings, "method")
    col.prop(settings, "strength", slider=True)
    col.prop(settings, "style_scale")
    col.prop(settings, "preserve_color")
    col.prop(settings, "tileable")
    col.prop(settings, "device")
    col.separator()
    col.prop(settings, "selected_objects")
    col.prop(settings, "pack")
    col.separator()
    if state.running:
        if hasattr(col, "progress"):
            col.progress(factor=state.progress, type="BAR", text=state.status.removeprefix("Brushwork: "))
        else:  # Blender before 4.0 has no progress widget; the status line still shows it
            col.label(text=f"{state.status} {state.progress:.0%}")
        col.operator(operators.BRUSHWORK_OT_cancel.bl_idname, icon="CANCEL")
    else:
        row = col.row(align=True)
        row.scale_y = 1.4
        row.operator(operators.BRUSHWORK_OT_stylize_texture.bl_idname, icon="BRUSH_DATA")
        col.operator(operators.BRUSHWORK_OT_revert_texture.bl_idname, icon="LOOP_BACK")
        col.separator()
        col.label(text="Renders")
        col.prop(settings, "auto_stylize")
        col.prop(settings, "depth_aware")
        if settings.depth_aware:
            sub = col.column(align=True)
            sub.prop(settings, "focus_distance")
            sub.prop(settings, "falloff")
            sub.prop(settings, "depth_side")
        col.operator(render_operators.BRUSHWORK_OT_stylize_render.bl_idname, icon="RENDER_RESULT")
        col.prop(settings, "coherence", slider=True)
        col.operator(render_operators.BRUSHWORK_OT_stylize_animation.bl_idname, icon="RENDER_ANIMATION")
        row = col.row(align=True)
        row.operator(render_operators.BRUSHWORK_OT_stylize_panorama.bl_idname, icon="WORLD")
        row.operator(render_operators.BRUSHWORK_OT_stylize_panorama.bl_idname, text="",
                     icon="RENDER_ANIMATION").animation = True
        col.separator()
        col.label(text="Movies")
        col.prop(settings, "movie_file")
        col.prop(settings, "movie_coherence")
        col.operator(movie_operators.BRUSHWORK_OT_stylize_movie_clip.bl_idname, icon="FILE_MOVIE")


class VIEW3D_PT_brushwork(bpy.types.Panel):
    bl_label = "Brushwork"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Brushwork"

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


CLASSES = (VIEW3D_PT_brushwork, MATERIAL_PT_brushwork)


register, unregister = bpy.utils.register_classes_factory(CLASSES)
