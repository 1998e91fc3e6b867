"""The page's look: a quiet theme of our own, its CSS and the page's one script.

Only fonts already on the reader's machine are named (no web font is fetched): a book serif for
what the documents say, the system's sans-serif for the controls. Ink blue on paper, a soft
amber for what a quote highlights.
"""

from __future__ import annotations

import gradio as gr

SANS = ["system-ui", "Segoe UI", "Helvetica Neue", "Liberation Sans", "Arial", "sans-serif"]
SERIF = ["Iowan Old Style", "Palatino Linotype", "Palatino", "Georgia", "Liberation Serif",
         "DejaVu Serif", "serif"]  # fmt: skip
MONO = ["ui-monospace", "Menlo", "Consolas", "Liberation Mono", "monospace"]
INK = gr.themes.Color(
    name="ink", c50="#f1f4f8", c100="#dde5ee", c200="#bccbdc", c300="#93a9c2", c400="#6a86a6",
    c500="#4a6889", c600="#37536f", c700="#2c4259", c800="#223345", c900="#182432",
    c950="#101822",
)  # fmt: skip
PAPER = gr.themes.Color(
    name="paper", c50="#fbfaf7", c100="#f4f1ea", c200="#e7e2d6", c300="#d4cdbc", c400="#aaa190",
    c500="#83796a", c600="#655d51", c700="#4b453c", c800="#332f29", c900="#221f1b",
    c950="#161411",
)  # fmt: skip


def make_theme() -> gr.themes.Base:
    """The theme: Gradio's base theme in ink and paper colours, system fonts only."""
    return gr.themes.Base(
        primary_hue=INK, secondary_hue=INK, neutral_hue=PAPER, radius_size="sm",
        font=SANS, font_mono=MONO,
    ).set(
        body_background_fill="#fbfaf7",
        body_text_color="#26231f",
        block_background_fill="#ffffff",
        block_border_color="#e7e2d6",
        block_label_text_color="#655d51",
        border_color_primary="#e7e2d6",
        color_accent="#37536f",
        color_accent_soft="#dde5ee",
        link_text_color="#2c4259",
        input_background_fill="#ffffff",
        button_primary_background_fill="#2c4259",
        button_primary_background_fill_hover="#37536f",
        button_primary_text_color="#ffffff",
        button_secondary_background_fill="#f4f1ea",
        button_secondary_background_fill_hover="#e7e2d6",
        checkbox_background_color_selected="#37536f",
        checkbox_border_color_selected="#37536f",
        body_background_fill_dark="#161411",
        body_text_color_dark="#ece7dc",
        block_background_fill_dark="#221f1b",
        link_text_color_dark="#bccbdc",
        button_primary_background_fill_dark="#4a6889",
    )  # fmt: skip


_SERIF_CSS = ", ".join(f'"{f}"' if " " in f else f for f in SERIF)

# The page's layout: a grid of three parts. Wide: the chat above the tools (question filter,
# examples) on the left, the Sources on the right, sticky. Narrow (a phone): one column, chat,
# Sources, tools, the chat growing with the page instead of scrolling inside it.
CSS = (
    """
.gradio-container { max-width: 1480px !important; }
#masthead h1 { font-family: SERIF; font-weight: 600; font-size: 1.55rem; margin: 0.2rem 0 0.1rem;
  color: #223345; letter-spacing: 0.005em; }
#masthead p { margin: 0; font-size: 0.95rem; color: #4b453c; max-width: 62rem; }
.status { font-size: 0.9rem; color: #4b453c; padding: 0.3rem 0; }
.status b { color: #223345; font-weight: 600; }
.status .sep { color: #aaa190; margin: 0 0.35rem; }
.status-note { font-size: 0.85rem; color: #8a5a00; }
#layout { display: grid !important; grid-template-columns: minmax(0, 5fr) minmax(0, 6fr);
  grid-template-rows: auto 1fr; column-gap: 1.4rem; row-gap: 0.6rem; align-items: start; }
#layout > * { min-width: 0 !important; width: auto !important; }
#col-chat { grid-column: 1; grid-row: 1; }
#col-tools { grid-column: 1; grid-row: 2; }
#col-sources { grid-column: 2; grid-row: 1 / span 2; position: sticky; top: 0.5rem; }
#sources { max-height: calc(100vh - 4.5rem); overflow-y: auto !important; padding-right: 0.3rem; }
#chat { height: min(62vh, 640px) !important; }
.panel-title { font-family: SERIF; font-size: 1.2rem; font-weight: 600; margin: 0.1rem 0 0.4rem;
  color: #223345; display: flex; justify-content: space-between; align-items: baseline; }
.panel-title a { font-family: system-ui, sans-serif; font-size: 0.85rem; font-weight: 400; }
#to-sources, .back-to-chat { display: none; }
@media (max-width: 860px) {
  #layout { display: flex !important; flex-direction: column; }
  #col-sources { position: static; }
  #sources { max-height: none; overflow: visible !important; }
  #chat { height: auto !important; max-height: none !important; }
  #chat .panel-wrap { max-height: none !important; overflow: visible !important; }
  #to-sources { display: block; position: fixed; right: 0.8rem; bottom: 0.8rem; z-index: 50;
    background: #2c4259; color: #fff !important; border-radius: 999px; padding: 0.55rem 1rem;
    font-weight: 600; text-decoration: none; box-shadow: 0 2px 8px rgba(0,0,0,0.25); }
  #layout.sources-in-view #to-sources { display: none; }
  .back-to-chat { display: inline; }
}
#chat .answer p { margin: 0 0 0.5rem; }
#chat .answer, #chat .answer p { font-family: SERIF; font-size: 1.02rem; line-height: 1.55; }
.searched { font-family: system-ui, sans-serif; font-size: 0.8rem; color: #655d51;
  margin-top: 0.35rem; }
.answer-note { font-size: 0.85rem; font-style: italic; margin-top: 0.3rem; color: #4b453c; }
a.cite { text-decoration: none; font-weight: 600; color: #37536f; font-family: system-ui,
  sans-serif; font-size: 0.85em; padding: 0 0.1em; }
a.cite:hover { text-decoration: underline; }
.abstain, .abstain-box { border-left: 3px solid #b7791f; background: #fdf6e7;
  padding: 0.45rem 0.7rem; border-radius: 3px; }
.sources-empty { color: #655d51; padding: 1rem; border: 1px dashed #d4cdbc; border-radius: 6px;
  font-size: 0.92rem; }
details.turn { border: 1px solid #e7e2d6; border-radius: 6px; margin: 0 0 0.8rem;
  padding: 0.3rem 0.8rem 0.5rem; background: #fff; }
details.turn.abstained { border-color: #d9b46a; }
details.turn > summary { cursor: pointer; padding: 0.3rem 0; list-style-position: outside; }
.turn-n { font-weight: 600; color: #223345; }
.turn-q { font-family: SERIF; font-style: italic; }
.turn-info { display: block; font-size: 0.8rem; color: #655d51; }
.turn-tools { display: flex; justify-content: flex-end; margin: 0.1rem 0 0.2rem; }
button.copy-answer { font-size: 0.82rem; padding: 0.2rem 0.6rem; border: 1px solid #d4cdbc;
  border-radius: 4px; background: #f4f1ea; color: #223345; cursor: pointer; }
button.copy-answer:hover { background: #e7e2d6; }
button.copy-answer.copied { background: #e3efe5; border-color: #9cc3a4; }
#sources article.src { border-top: 1px solid #eee9de; padding: 0.6rem 0.1rem; margin: 0;
  scroll-margin-top: 0.8rem; transition: background-color 0.5s; }
#sources article.src.flash { background: #fbf1cf; }
.src-head { font-size: 0.98rem; line-height: 1.3; }
.src-n { font-weight: 700; color: #37536f; margin-right: 0.25rem; }
.src-title { font-weight: 600; font-family: SERIF; }
.src-meta { font-size: 0.84rem; color: #4b453c; }
.src-where { font-size: 0.74rem; color: #83796a; font-family: ui-monospace, monospace;
  overflow-wrap: anywhere; }
#sources .src-label { font-size: 0.8rem; font-weight: 600; margin: 0.45rem 0 0.1rem;
  color: #655d51; text-transform: uppercase; letter-spacing: 0.04em; }
.badge { background: #eee9de; color: #4b453c; border-radius: 3px; padding: 0 0.35rem;
  font-size: 0.75rem; }
/* Gradio sets ".prose blockquote" margins with !important; the excerpts sit closer. */
#sources blockquote.excerpt, #sources blockquote.annotated { white-space: pre-wrap;
  margin: 0.35rem 0 0 0 !important; padding: 0.5rem 0.8rem; border-left: 3px solid #c9b98a;
  background: #fbfaf7; font-family: SERIF; font-size: 0.97rem; line-height: 1.5;
  font-style: normal; quotes: none; color: #26231f; overflow-wrap: break-word; }
#sources blockquote.annotated { border-left-style: dashed; }
#sources blockquote mark { background: #fbe6a2; color: #1d1a16; padding: 0; }
#sources blockquote sup, #chat sup { font-size: 0.7em; line-height: 0; color: #655d51; }
.notice { padding: 0.45rem 0.7rem; border-radius: 4px; margin: 0.3rem 0; font-size: 0.92rem; }
.notice-error { background: #fbeaea; border-left: 3px solid #b03a3a; }
.notice-ok { background: #e9f3ec; border-left: 3px solid #3d7a52; }
.pending { font-style: italic; color: #655d51; }
#doc-tools { gap: 0.4rem; flex-wrap: nowrap; }
#doc-tools button { flex: 0 0 auto !important; min-width: 4.5rem !important; width: auto !important; }
#doc-tools #clear { margin-left: auto; }
"""
).replace("SERIF", _SERIF_CSS)

# The page's own script (no corpus text is ever placed here): a click on [n] opens its Sources
# entry and lights it up; "Copy answer with citations" puts the answer's text on the clipboard;
# on a phone, a "Sources" button is shown while the Sources are out of sight.
HEAD = """<script>
(function () {
  function jump(target) {
    const group = target.closest("details");
    if (group) group.open = true;
    const panel = document.getElementById("sources");
    const scrolls = panel && panel.contains(target) && panel.scrollHeight > panel.clientHeight
      && getComputedStyle(panel).overflowY === "auto";
    if (scrolls) {  // wide screens: the Sources scroll in their own column, the chat stays
      const top = target.getBoundingClientRect().top - panel.getBoundingClientRect().top;
      panel.scrollTo({top: panel.scrollTop + top - 8, behavior: "smooth"});
    } else {
      target.scrollIntoView({behavior: "smooth", block: "start"});
    }
    target.classList.add("flash");
    setTimeout(function () { target.classList.remove("flash"); }, 1800);
  }
  function copyText(text, button) {
    const done = function () {
      button.classList.add("copied");
      button.textContent = "Copied";
      setTimeout(function () {
        button.classList.remove("copied");
        button.textContent = "Copy answer with citations";
      }, 2000);
    };
    const fallback = function () {
      const area = document.createElement("textarea");
      area.value = text;
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }
  document.addEventListener("click", function (ev) {
    if (!ev.target.closest) return;
    const link = ev.target.closest('a[href^="#src-"], a[data-jump]');
    if (link) {
      const id = link.getAttribute("data-jump") || link.getAttribute("href").slice(1);
      const target = document.getElementById(id);
      if (!target) return;
      ev.preventDefault();
      ev.stopPropagation();
      jump(target);
      return;
    }
    const button = ev.target.closest("button.copy-answer");
    if (button) {
      const source = document.getElementById(button.getAttribute("data-copy"));
      if (source) copyText(source.value, button);
    }
  }, true);
  // On a phone the Sources sit below the chat: show the floating button while they are out
  // of sight (checked on scroll; the page re-renders its columns, so nothing is kept).
  let pending = false;
  function placeSourcesButton() {
    pending = false;
    const panel = document.getElementById("col-sources");
    if (!panel) return;
    const r = panel.getBoundingClientRect();
    const seen = r.top < window.innerHeight * 0.6 && r.bottom > 0;
    // on the layout, not on <body>: Gradio scopes the page's CSS inside its container
    const layout = document.getElementById("layout");
    if (layout) layout.classList.toggle("sources-in-view", seen);
  }
  function schedule() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(placeSourcesButton);
    }
  }
  window.addEventListener("scroll", schedule, {passive: true});
  window.addEventListener("resize", schedule);
  setInterval(schedule, 1000);  // answers change the page's height without a scroll
})();
</script>"""
