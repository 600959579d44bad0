"""Datasets on disk (``layout``), the packed uint8 cache (``cache``) and batch feeding (``feeder``)."""
