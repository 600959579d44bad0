"""``maskaway evaluate``: sample selection, measuring, tallies, contact sheet, report, photos.

``run.py`` puts the parts together; nothing here prints or exits.
"""
