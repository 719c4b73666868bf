"""The exactly-once loader of landed feed files into ``raw.<feed>``, with quarantine.

loader.py is the transaction script (its docstring says what a load guarantees); the parts
it runs, each with one job, over one explicit state object (batch.py):
- candidates.py: which landed files a load reads, by their fingerprints; books.py: the
  file log and the accepted files it judges them by, and the file log it writes;
- headers.py: the columns a file carries, matched with the catalogue;
- readers.py: DuckDB's reader SQL; insert.py: the files read into the table;
  numbering.py: each row's place in its file;
- checks.py: row checks (required, the file's day, a repeated key) and the counts;
  validation.py: the expectation suites with the usual-day baseline;
- quarantine.py: files kept in quarantine/, rows in ingest.quarantined_rows, held
  corrections and an operator accepting one;
- outcomes.py: what a load returns.
"""
