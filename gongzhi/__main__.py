"""``python -m gongzhi``: the same command line as ``gongzhi``."""

from gongzhi.cli import main

main()
