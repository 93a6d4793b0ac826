"""The columnar engine (`leuko assess --input FILE --engine columnar`; the optional extra
`leuko-cli[columnar]`): CSV and Parquet graded column-wise with `leuko_cli.vector`.

engine.py   which rows the vectorised path takes, their BATCH_RESULTS, the rest by row engine
tables.py   Arrow readers (CSV as text, Parquet), the results assembled, the two sinks
csvout.py   the stream's exact CSV from Arrow batches (pyarrow's writer + spliced rows)
text.py     byte-level checks of string arrays (plain decimals, cells written as they are)
command.py  the option's checks, the batches on two threads, the summary line and exit status
"""
