"""What is inside an image, read from its layers through the registry (no engine).

``tree``: the image's layers applied one over another as an overlay filesystem would
(whiteouts, opaque directories, a file replacing a directory); ``files``: the merged
filesystem as a table and one file's bytes; ``diff``: what changed between two images (config,
layers, files), streaming only the layers they do not share.

Layer 5: may import ``operations.images``, ``operations.security`` and ``operations.core``
and everything below them (like go-containerregistry's ``pkg/v1/mutate`` over ``remote``).
"""
