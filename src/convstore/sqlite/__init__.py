"""The SQLite backend: :class:`~convstore.SessionStore` and everything under it.

``store`` (the store and its write transaction), ``connection`` (opening a
file), ``migrations`` (the runner for ``migrations/*.sql``), the history tools
``search``, ``exporting`` and ``retention``, ``blobs``, and the SQL: built in
``_sqlbuild`` (pypika), generated into ``_sql``. ``import convstore`` imports
what the store needs and nothing more.
"""
