"""The front doors: the command line (`cli`), the worker that the add-on and farms drive
with one JSON job (`worker`), and progress reporting for both (`progress`).
"""
