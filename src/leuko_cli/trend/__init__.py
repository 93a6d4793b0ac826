"""`leuko trend`: serial counts read through the batch reader layer, graded by `assess`, and
summarised per subject (nadir, days per grade and below 500/µL, recovery, direction, a cyclic
screen), drawn as a terminal chart or an SVG. Every number it applies is a KB `[[trend_rules]]`
entry; docs/trend.md defines each figure.
"""
