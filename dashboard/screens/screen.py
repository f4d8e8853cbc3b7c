"""首屏 The big screen of a command hall (``/screen`` or ``?screen=1``)."""

from dashboard.components.bigscreen import main

main()
