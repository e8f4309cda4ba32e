"""The verbs: pull, tag, push, build, run, copy, remove, namespaces and images.

Layer 3: imports ``reference``, ``registry``, ``engine`` and the bottom modules; never
the widgets. Widgets and notebooks call only these.
"""
