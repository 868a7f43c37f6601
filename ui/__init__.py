"""The Gradio chat UI and the embeddable widget (``ui/static``).

Kept free of imports: ``importlib.resources.files("ui")`` (how the API finds
``static/widget.js``) imports this package, and must not pull in Gradio. Mount the
UI with ``ui.mount.mount_ui``.
"""
