"""The web page: a chat beside a Sources panel (Gradio). Only this package imports gradio.

Installed as ``assistant_ui`` (the extra ``web``); ``assistant ui`` finds :func:`app.launch`
through the entry point ``assistant.pages: web``, so ``assistant`` never imports this package.

app.py       build_app(assistant) -> gr.Blocks (layout, events, /answer); launch() syncs, serves
page.py      ChatPage: what happens on ask, clear, a thumb, /feedback and /answer
render.py    Answer -> HTML (pure functions; every corpus character is escaped, markup rendered)
theme.py     the theme, CSS and the page's one script (citation jumps, copy, phone layout)
feedback.py  thumbs up/down appended to a JSONL file under a file lock
"""
