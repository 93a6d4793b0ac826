"""The columnar engine (`leuko assess --input FILE --engine columnar`; the optional extra
`leuko-cli[columnar]`): CSV and Parquet graded column-wise with `leuko_cli.vector`.

engine.py   which rows the vectorised path takes, their BATCH_RESULTS, the rest by row engine
tables.py   Arrow readers (CSV as text, Parquet) and writers (the stream's exact CSV, Parquet)
command.py  the option's checks, the file, the summary line and the exit status
"""
