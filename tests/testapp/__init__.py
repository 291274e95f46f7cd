"""A stand-in host CMS used only by the tests (registered through newsrec.registry)."""
