"""Memory for pictures larger than RAM: memory-mapped buffers (`buffers`), float32
helpers over them (`arrays`) and keeping freed memory for reuse (`allocator`).
"""
