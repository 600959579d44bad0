"""The parts of ``maskaway evaluate``: sample selection, measuring, tallies, contact sheet, report, photos.

``maskaway_cli.evaluate`` puts them together; nothing here prints or exits.
"""
