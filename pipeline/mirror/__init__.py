"""The input mirror: the pinned upstream inputs a build reads, kept in a folder by content.

- :mod:`pipeline.mirror.inputs`: which inputs each step reads, and their place in a mirror;
- :mod:`pipeline.mirror.state`: what a build finds in a mirror, and what it cannot serve;
- :mod:`pipeline.mirror.local`: a mirror on local disk, checked, made or completed (`helios inputs`);
- :mod:`pipeline.mirror.engine`: a mirror as a ``dagger.Directory``, read or made on an engine.
"""
