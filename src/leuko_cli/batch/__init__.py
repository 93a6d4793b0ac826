"""Batch grading: readers yield rows, one loop grades them, writers emit them.

- `readers`: CSV and JSON Lines rows as field values (columns mapped through the field table)
  and FHIR Observations grouped into cases;
- `grade`: the one loop, every row through `assess.assess` (the same core as `leuko assess`);
- `writers`: CSV, JSON Lines and table output, written as rows are graded;
- `command`: `leuko assess --input/--fhir`, the options and the exit status.
"""
