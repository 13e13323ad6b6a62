"""The JSON API under /api/v1 (api.md), one router a module.

Routes only translate HTTP to service calls: each opens its transaction (``with db.begin()``),
the rules are in ``services/``, the text of the answers in the presenters (``web/*_presenters``)
and the ``*_schemas`` response models. A record of another account answers 404, never 403, so
nothing tells whether it exists.
"""
