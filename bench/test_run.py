"""Unit tests of bench/run.py's arithmetic (bench/tcbench/): how rounds become the reported figures.

    python3 -m unittest discover -s bench -p 'test_*.py'

(run by .ci/run; standard library only, no server or load tool needed).
"""
import argparse
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tcbench.backend import combine_rounds  # noqa: E402
from tcbench.cli import Ctx  # noqa: E402
from tcbench.report import ratio_of, targets  # noqa: E402


def wrk(rps, **extra):
    return {"rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "cpu_pct": 100.0, "problems": [], **extra}


def ctx(rounds):
    args = argparse.Namespace(
        quick=False, secs=5, conns=64, backend="sqlite", skip=None, perf=None, out="/tmp",
        growth_tokens=None, sweep_tokens=None, sweep_secs=None, openloop_conns=4096,
        max_in_flight=None, rounds=rounds)
    return Ctx(args)


class CombineRounds(unittest.TestCase):
    def test_each_ratio_is_of_its_own_rounds_ceiling_and_the_median_round_stands(self):
        rounds = [
            {"ceiling": wrk(100_000.0), "exchange": wrk(30_000.0)},  # 30 %
            {"ceiling": wrk(50_000.0), "exchange": wrk(20_000.0)},   # 40 %
            {"ceiling": wrk(80_000.0), "exchange": wrk(16_000.0)},   # 20 %
        ]
        c = combine_rounds(rounds)
        ex = c["exchange"]
        self.assertEqual(ex["rps"], 30_000.0, "the round with the median ratio")
        self.assertAlmostEqual(ex["ratio"], 0.30)
        self.assertEqual(ex["ratio_of_rps"], 100_000.0)
        self.assertEqual(ex["ratio_range"], [0.2, 0.4])
        self.assertEqual([r["ratio"] for r in ex["rounds"]], [0.3, 0.4, 0.2])
        self.assertEqual([r["ratio_of_rps"] for r in ex["rounds"]], [100_000.0, 50_000.0, 80_000.0])
        # The ceiling stands as its median round; it has no ratio of its own.
        self.assertEqual(c["ceiling"]["rps"], 80_000.0)
        self.assertNotIn("ratio", c["ceiling"])

    def test_even_count_takes_the_lower_median(self):
        rounds = [{"ceiling": wrk(100.0), "userinfo": wrk(v)} for v in (70.0, 50.0, 60.0, 40.0)]
        u = combine_rounds(rounds)["userinfo"]
        self.assertAlmostEqual(u["ratio"], 0.50)
        self.assertEqual(u["ratio_range"], [0.4, 0.7])

    def test_openid_exchange_is_divided_by_its_rounds_signing_ceiling(self):
        rounds = [
            {"signing": {"rps": 8_000.0}, "exchange_openid": wrk(4_800.0)},  # 60 %
            {"signing": {"rps": 6_000.0}, "exchange_openid": wrk(4_200.0)},  # 70 %
            {"signing": {"rps": 8_000.0}, "exchange_openid": wrk(5_200.0)},  # 65 %
        ]
        o = combine_rounds(rounds)["exchange_openid"]
        self.assertEqual(o["rps"], 5_200.0)
        self.assertAlmostEqual(o["ratio"], 0.65)
        self.assertEqual(combine_rounds(rounds)["signing"]["rps"], 8_000.0)

    def test_problems_of_every_round_are_kept(self):
        rounds = [
            {"ceiling": wrk(100.0), "exchange": wrk(30.0, problems=["exchange: unexpected statuses"])},
            {"ceiling": wrk(100.0), "exchange": wrk(20.0)},
            {"ceiling": wrk(100.0), "exchange": wrk(10.0)},
        ]
        ex = combine_rounds(rounds)["exchange"]
        self.assertEqual(ex["rps"], 20.0)
        self.assertEqual(ex["problems"], ["exchange: unexpected statuses"])

    def test_a_round_without_its_ceiling_gives_no_ratio_and_one_round_no_range(self):
        c = combine_rounds([{"exchange": wrk(30.0)}])
        self.assertNotIn("ratio", c["exchange"])
        self.assertNotIn("rounds", c["exchange"])
        one = combine_rounds([{"ceiling": wrk(100.0), "exchange": wrk(30.0)}])["exchange"]
        self.assertAlmostEqual(one["ratio"], 0.30)
        self.assertNotIn("ratio_range", one)


class Reporting(unittest.TestCase):
    def test_ratio_of_prefers_the_rounds_ratio_over_the_median_ceiling(self):
        c = ctx(3)
        c.results = {"sqlite": {"ceiling": wrk(80_000.0)}}
        r = wrk(30_000.0, ratio=0.3, ratio_of_rps=100_000.0)
        self.assertEqual(ratio_of("exchange", r, "sqlite", c), (0.3, "of ceiling"))
        self.assertEqual(ratio_of("exchange", wrk(30_000.0), "sqlite", c), (0.375, "of ceiling"))

    def test_targets_name_the_rounds_and_their_range(self):
        c = ctx(3)
        c.signing = {"rps": 8_000.0}
        rounds = [{"ceiling": wrk(100_000.0), "userinfo": wrk(v)} for v in (72_000.0, 69_000.0, 75_000.0)]
        c.results = {"sqlite": combine_rounds(rounds)}
        lines = [(ok, text) for ok, text in targets(c) if "userinfo" in text]
        self.assertEqual(lines, [(True, "sqlite: userinfo 72,000 req/s = 72.0 % of the HTTP ceiling "
                                        "100,000, median of 3 rounds, 69–75 % (target >= 70 %)")])


    def test_web_profile_is_divided_by_its_rounds_ceiling_with_userinfos_target(self):
        c = ctx(3)
        rounds = [{"ceiling": wrk(c_), "web_profile": wrk(v)}
                  for c_, v in ((100_000.0, 60_000.0), (80_000.0, 60_000.0), (50_000.0, 40_000.0))]
        c.results = {"sqlite": combine_rounds(rounds)}
        w = c.results["sqlite"]["web_profile"]
        self.assertEqual((w["ratio"], w["ratio_of_rps"]), (0.75, 80_000.0))
        self.assertEqual(ratio_of("web_profile", w, "sqlite", c), (0.75, "of ceiling"))
        lines = [(ok, text) for ok, text in targets(c) if "/v1/default" in text]
        self.assertEqual(lines, [(True, "sqlite: /v1/default 60,000 req/s = 75.0 % of the HTTP "
                                        "ceiling 80,000, median of 3 rounds, 60–80 % "
                                        "(target >= 70 %, as userinfo)")])


if __name__ == "__main__":
    unittest.main()
