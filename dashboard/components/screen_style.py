"""Style sheets (no data in them): the 首屏 big screen's dark wall theme, and the phone layout
of the ordinary pages.

The wall scales with the viewport: the root font size is 16 px at 1920×1080 and grows with
the smaller of width/1920 and height/1080 (32 px at 3840×2160), and every size below is in
``rem``, Streamlit's own spacing included. Sizes at 1080p (doubled at 2160p), chosen to be
read from 5 m: headline figures 60 px, the title 40 px, card labels 24 px, ranking rows 28 px,
the clock 28 px, the ticker 26 px, captions 20 px (README, 首屏).
"""

from __future__ import annotations

import streamlit as st

TONES = {"blue": "#3d9bff", "yellow": "#ffc53d", "red": "#ff4d4f", "grey": "#6b7a99"}

WALL_CSS = """
html { font-size: min(calc(100vw / 120), calc(100vh / 67.5)); }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stStatusWidget"], [data-testid="stSidebarNav"], footer { display: none !important; }
html, body, .stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {
  background: #04102b !important; color: #e8f1ff; overflow: hidden !important; }
[data-testid="stMainBlockContainer"] { padding: 0.75rem 1.5rem 0.5rem 1.5rem !important;
  max-width: 100% !important; }
[data-testid="stMainBlockContainer"] p, [data-testid="stMainBlockContainer"] td,
[data-testid="stMainBlockContainer"] th { color: #e8f1ff; }
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.6rem; }
.st-key-screen_title { border-bottom: 0.15rem solid #1f4fa8; padding-bottom: 0.4rem; }
.st-key-screen_title [data-testid="stHorizontalBlock"] { align-items: center; }
.st-key-screen_name p { font-size: 2.5rem; font-weight: 700; color: #7cc4ff;
  letter-spacing: 0.1rem; white-space: nowrap; margin: 0; }
.st-key-screen_domain p { font-size: 2rem; text-align: center; color: #ffe58f; margin: 0; }
.st-key-screen_clock p { font-size: 1.75rem; text-align: right; margin: 0; }
.st-key-screen_clock [data-testid="stCaptionContainer"] p { font-size: 1.25rem;
  color: #9fb8e6; }
[class*="st-key-screen_panel_"] { background: #0a1d46; border: 0.06rem solid #1f3c7a;
  border-radius: 0.5rem; padding: 0.6rem 0.9rem; }
[class*="st-key-screen_head_"] p { font-size: 1.75rem; font-weight: 700; color: #7cc4ff;
  margin: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
[class*="st-key-screencard_"] { background: #0d2559; border-radius: 0.5rem;
  border-left: 0.4rem solid #6b7a99; padding: 0.5rem 0.9rem; gap: 0.1rem !important; }
[class*="st-key-screencard_blue_"] { border-left-color: #3d9bff; }
[class*="st-key-screencard_yellow_"] { border-left-color: #ffc53d; }
[class*="st-key-screencard_red_"] { border-left-color: #ff4d4f; }
[class*="st-key-screencard_"] [data-testid="stMetricLabel"] p { font-size: 1.5rem;
  color: #b7cdf2; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
[class*="st-key-screencard_"] [data-testid="stMetricValue"] { font-size: 3.75rem;
  font-weight: 700; color: #ffffff; line-height: 1.15; }
[class*="st-key-screencard_"] [data-testid="stMetricDelta"] { font-size: 1.25rem; }
[class*="st-key-screencard_"] [data-testid="stMetricDelta"] svg { width: 1.25rem;
  height: 1.25rem; }
[class*="st-key-screencard_"] [data-testid="stCaptionContainer"] p { font-size: 1.25rem;
  color: #9fb8e6; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
:is(.st-key-screen_panel_ranking, .st-key-screen_panel_red_black) table { width: 100%;
  font-size: 1.75rem; border-collapse: collapse; }
.st-key-screen_panel_red_black table { font-size: 1.5rem; }
:is(.st-key-screen_panel_ranking, .st-key-screen_panel_red_black) th {
  color: #9fb8e6 !important; font-size: 1.25rem; }
:is(.st-key-screen_panel_ranking, .st-key-screen_panel_red_black) :is(td, th) {
  border: none !important; border-bottom: 0.06rem solid #1f3c7a !important;
  padding: 0.2rem 0.5rem !important; background: transparent !important; }
[class*="st-key-screen_panel_"] [data-testid="stMarkdownContainer"] { overflow: hidden; }
:is(.st-key-screen_panel_tasks, .st-key-screen_panel_alerts) li { font-size: 1.375rem;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
[class*="st-key-screen_count_"] p { text-align: center; margin: 0; }
[class*="st-key-screen_count_"] strong { font-size: 3.5rem; font-weight: 700;
  line-height: 1.15; }
[class*="st-key-screen_count_"] [data-testid="stCaptionContainer"] p { font-size: 1.375rem;
  color: #b7cdf2; }
.st-key-screen_count_blue strong { color: #3d9bff; }
.st-key-screen_count_yellow strong { color: #ffc53d; }
.st-key-screen_count_red strong { color: #ff4d4f; }
.st-key-screen_count_none strong { color: #8a97b3; }
/* the columns fill the wall between the title bar and the ticker; panels share the height
   (st.html escapes the child combinator, so the chain is picked out with :has()) */
.st-key-screen_body { height: calc(100vh - 10.5rem) !important; flex: none !important; }
.st-key-screen_body [data-testid="stLayoutWrapper"]:has([class*="st-key-screen_col_"]),
.st-key-screen_body [data-testid="stHorizontalBlock"]:has([class*="st-key-screen_col_"]),
.st-key-screen_body [data-testid="stColumn"]:has([class*="st-key-screen_col_"]),
.st-key-screen_body [data-testid="stVerticalBlock"]:has([class*="st-key-screen_col_"]),
[class*="st-key-screen_col_"] { height: 100% !important; }
[class*="st-key-screen_col_"] [data-testid="stLayoutWrapper"]:has([class*="st-key-screen_panel_"]) {
  flex: 1 1 auto !important; min-height: 0; }
[class*="st-key-screen_panel_"] { height: 100% !important; }
.st-key-screen_panel_cards [data-testid="stLayoutWrapper"]:has([class*="st-key-screencard_"]) {
  flex: 1 1 0 !important; min-height: 0; }
.st-key-screen_panel_cards [data-testid="stHorizontalBlock"],
.st-key-screen_panel_cards [data-testid="stColumn"],
.st-key-screen_panel_cards [data-testid="stColumn"] [data-testid="stVerticalBlock"],
[class*="st-key-screencard_"] { height: 100% !important; }
[class*="st-key-screencard_"] { justify-content: center; }
/* the columns fill the wall between the title bar and the ticker; panels share the height */
.st-key-screen_body { height: calc(100vh - 10.5rem) !important; }
.st-key-screen_body > [data-testid="stLayoutWrapper"],
.st-key-screen_body > div > [data-testid="stHorizontalBlock"],
.st-key-screen_body > div > div > [data-testid="stColumn"],
.st-key-screen_body > div > div > div > [data-testid="stVerticalBlock"] { height: 100% !important; }
.st-key-screen_body > div > div > div > [data-testid="stVerticalBlock"]
  > [data-testid="stLayoutWrapper"] { flex: 1 1 auto !important; min-height: 0; }
.st-key-screen_body [class*="st-key-screen_panel_"] { height: 100% !important; }
.st-key-screen_panel_cards > [data-testid="stLayoutWrapper"]:not(:first-child) {
  flex: 1 1 0 !important; min-height: 0; }
.st-key-screen_panel_cards [data-testid="stHorizontalBlock"],
.st-key-screen_panel_cards [data-testid="stColumn"] > [data-testid="stVerticalBlock"],
.st-key-screen_panel_cards [data-testid="stColumn"] [data-testid="stLayoutWrapper"] {
  height: 100% !important; }
[class*="st-key-screencard_"] { height: 100% !important; justify-content: center; }
[class*="st-key-screencard_"] [data-testid="stMetricDelta"] {
  background: rgba(255, 255, 255, 0.08) !important; }
.st-key-screen_ticker { background: #0a1d46; border-top: 0.15rem solid #1f4fa8;
  overflow: hidden; white-space: nowrap; padding: 0.3rem 0; position: fixed;
  left: 1.5rem; right: 1.5rem; bottom: 0.4rem; height: 3rem; z-index: 10; }
.st-key-screen_ticker [data-testid="stMarkdownContainer"] { overflow: hidden; }
.st-key-screen_ticker p { display: inline-block; white-space: nowrap; font-size: 1.625rem;
  margin: 0; padding-left: 100%; animation: gz-ticker var(--gz-ticker-seconds, 90s) linear
  infinite; }
@keyframes gz-ticker { from { transform: translateX(0); } to { transform: translateX(-100%); } }
.stAlert p { font-size: 1.5rem; }
"""

# Phones (政务微信 / 钉钉 open links in a mobile browser): nothing may be wider than the screen,
# and KPI cards sit two to a row instead of one (Streamlit stacks columns below 640 px).
PHONE_CSS = """
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-left: 0.75rem !important;
    padding-right: 0.75rem !important; max-width: 100vw; }
  .stApp, [data-testid="stMain"] { overflow-x: hidden; }
  .st-key-kpi_cards [data-testid="stHorizontalBlock"] { flex-wrap: wrap; gap: 0.5rem; }
  .st-key-kpi_cards [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] {
    width: calc(50% - 0.25rem) !important; flex: 1 1 calc(50% - 0.25rem) !important;
    min-width: calc(50% - 0.25rem) !important; }
  .st-key-kpi_cards [data-testid="stHorizontalBlock"] > [data-testid="stColumn"]:empty {
    display: none; }
  [data-testid="stMetricValue"] { font-size: 1.5rem; }
  h1 { font-size: 2rem !important; }
  [data-testid="stMetricLabel"] p { white-space: normal; }
  [data-testid="stVegaLiteChart"], [data-testid="stDataFrame"] { max-width: 100%; }
  /* the map is drawn at a fixed size (its projection is fixed, geomap.WIDTH): on a phone its
     SVG scales down to the screen's width through its viewBox; taps still hit the polygons,
     as Vega's SVG handler finds the item from the element under the finger */
  [class*="st-key-geomap_"] [data-testid="stVegaLiteChart"] { width: 100% !important;
    height: auto !important; }
  [class*="st-key-geomap_"] [data-testid="stVegaLiteChart"] > svg { width: 100% !important;
    height: auto !important; }
}
"""


# The only st.html calls in the product (tests/test_hardening.py): fixed style sheets and a
# whole number, never data.


def wall() -> None:
    """Apply the big screen's theme (hides the sidebar, menus and Streamlit's chrome)."""
    st.html(f"<style>{WALL_CSS}</style>")


def ticker_speed(seconds: int) -> None:
    """How long the ticker takes to pass once (a whole number of seconds)."""
    st.html(f"<style>:root {{ --gz-ticker-seconds: {int(seconds)}s; }}</style>")


def phone() -> None:
    """Apply the phone layout rules (they act only below 640 px)."""
    st.html(f"<style>{PHONE_CSS}</style>")
