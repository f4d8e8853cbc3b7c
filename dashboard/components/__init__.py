"""Building blocks the pages lay out: cards, charts, tables, exports, filters."""
