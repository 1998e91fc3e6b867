"""The web page: a chat beside a Sources panel (Gradio). Only this package imports gradio.

app.py       build_app(assistant) -> gr.Blocks; launch() syncs the store, then serves
render.py    Answer -> HTML (pure functions; every corpus character is escaped)
feedback.py  thumbs up/down appended to a JSONL file under a file lock
"""
