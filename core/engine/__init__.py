"""The style-transfer engine, free of file formats: a `Stylizer` that encodes, transforms
and decodes through global statistics (`stylizer`), the methods and their feature maths
(`methods`), seamless tiling (`tiling`, `tileable`) and resampling (`resample`).
"""
