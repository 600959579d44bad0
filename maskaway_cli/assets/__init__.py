"""Assets: the registry of datasets and weights, and the code that downloads and unpacks them.

``fetch.fetch_asset`` is the entry point; ``http``, ``gdrive`` and ``archives`` are its engines.
"""
