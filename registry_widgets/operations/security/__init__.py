"""What is inside an image and what is known against it: ``layers`` (streaming a layer's
tar), ``packages`` (package databases), ``sbom``, ``versions`` (each ecosystem's version
order), ``osv`` (advisory feeds), ``findings``, ``audit`` (the configuration checks),
``exemptions`` and ``scan``.

Imports ``operations.core`` and the layers below it; never ``images``, ``cleanup`` or
``mirror``.
"""
