"""tcauth's benchmark suite, driven by bench/run.py (whose docstring is the --help text).

The modules, each importing only from those before it (no cycles):

  common     paths (ROOT, BENCH), constants, log, Abort
  procs      child processes: spawn, end, end_all (at exit), signals, free ports, tools
  http_util  set-up HTTP: one request, a keep-alive pool
  server     Server: tcauth serve on a store, /proc figures, the admin API
  measure    Measure, run_wrk (one wrk run and its figures), perf and flame graphs
  tokens     Minter (codes through the admin API), exchange_all, run_with_codes
  scenarios  the signing ceiling, the bench identity, token pools, overload
  seeding    tokens inserted with SQL; growth and sweeper
  backend    run_backend (one store kind), closed-loop rounds, combine_rounds
  report     the tables, the PASS/MISS targets, chart.svg
  cli        Ctx, the build, main

  common <- procs <- http_util <- server <- measure <- tokens <- scenarios <- seeding
         <- backend <- report <- cli
"""
