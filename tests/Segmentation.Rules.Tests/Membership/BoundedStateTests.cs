using System.Text.Json;
using CsCheck;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Tests.Membership;

/// <summary>
/// A state that keeps only what the ruleset reads (windows, properties, running totals) decides exactly as one that keeps
/// every event; a wider ruleset refuses it until it is refolded from the history, and then decides as full history would.
/// </summary>
public class BoundedStateTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Bounded_state_gives_the_memberships_blocks_and_next_checks_of_full_history_at_every_step()
    {
        Gen.Int.Sample(Check, iter: 200);

        static void Check(int seed)
        {
            var random = new Random(seed);
            var yaml = IncrementalEngineMatchesOracleTests.RandomRuleset(random, twoGroups: true);
            var ruleset = Load(yaml);
            var bounded = new SegmentEngine(ruleset);
            var full = new SegmentEngine(ruleset, boundedState: false);
            var kept = new CustomerState { CustomerId = "c" };
            var everything = new CustomerState { CustomerId = "c" };
            var step = 0;
            foreach (var (e, now) in IncrementalEngineMatchesOracleTests.RandomArrivals(random))
            {
                var context = $"seed {seed} step {step++} {e.Type} at {e.OccurredAt:O} arrived {now:O}\n{yaml}";
                if (kept.NextCheckAt is { } due && due < now && random.Next(2) == 0)
                {
                    Same(bounded.Evaluate(kept, due), full.Evaluate(everything, due), context);
                }

                // Through JSON, as the profile document carries it.
                kept = JsonSerializer.Deserialize<CustomerState>(JsonSerializer.Serialize(kept))!;
                Same(bounded.Apply(kept, e, now), full.Apply(everything, e, now), context);
            }

            Assert.NotNull(kept.Retention);
            Assert.Null(everything.Retention);
        }
    }

    [Fact]
    public void A_wider_ruleset_after_bounded_ingestion_decides_as_it_would_on_full_history()
    {
        Gen.Int.Sample(Check, iter: 200);

        static void Check(int seed)
        {
            var random = new Random(seed);
            var narrow = Load(IncrementalEngineMatchesOracleTests.RandomRuleset(random, twoGroups: true));
            var wide = Load(IncrementalEngineMatchesOracleTests.RandomRuleset(random, twoGroups: true));
            var arrivals = IncrementalEngineMatchesOracleTests.RandomArrivals(random);
            var activatedAt = arrivals[^1].Now.AddHours(random.Next(0, 48));

            var boundedEngine = new SegmentEngine(narrow);
            var fullEngine = new SegmentEngine(narrow, boundedState: false);
            var kept = new CustomerState { CustomerId = "c" };
            var everything = new CustomerState { CustomerId = "c" };
            foreach (var (e, now) in arrivals)
            {
                boundedEngine.Apply(kept, e, now);
                fullEngine.Apply(everything, e, now);
            }

            var activated = new SegmentEngine(wide);
            if (!activated.Covers(kept))
            {
                Assert.Throws<InvalidOperationException>(() => activated.Evaluate(kept.Clone(), activatedAt));
                kept = activated.Rebuild(kept, arrivals.Select(a => a.Event).Reverse());
                Assert.True(activated.Covers(kept));
            }

            var context = $"seed {seed}";
            Same(activated.Evaluate(kept, activatedAt), activated.Evaluate(everything, activatedAt), context);

            // Conditions do not depend on past memberships: what qualifies is what a fresh replay of the history says.
            var replayed = new SegmentEngine(wide).Replay("c", arrivals.Select(a => a.Event), activatedAt);
            Assert.Equal(replayed.State.Qualifying.Order(StringComparer.Ordinal), kept.Qualifying.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public void A_long_history_keeps_what_the_windows_read_and_counts_the_rest()
    {
        var engine = new SegmentEngine(Load("""
            segments:
              busy:
                when: count(PageViewed, 7d) >= 20 and count(PageViewed where path == "/pricing", 1d) >= 1
              loyal:
                when: count(PageViewed) >= 5000 and first(SignedUp) is not null
              spender:
                when: sum(Purchased.amount) > 100
            """));
        var state = new CustomerState { CustomerId = "hot" };
        for (var i = 0; i < 10_000; i++)
        {
            var at = Start.AddMinutes(15 * i);
            var view = new CustomerEvent
            {
                EventId = $"v{i:D5}", Type = "PageViewed", OccurredAt = at,
                Properties = new Dictionary<string, Value> { ["path"] = Value.FromString(i % 10 == 0 ? "/pricing" : "/"), ["referrer"] = Value.FromString("x") },
            };
            engine.Apply(state, view, at);
            if (i % 100 == 0)
            {
                var purchase = new CustomerEvent { EventId = $"p{i:D5}", Type = "Purchased", OccurredAt = at, Properties = new Dictionary<string, Value> { ["amount"] = Value.FromNumber(3) } };
                engine.Apply(state, purchase, at);
            }
        }

        // 7 days of views at one per 15 minutes is 672; an eighth more (and 8) may wait to be cut.
        var views = state.EventsByType["PageViewed"];
        Assert.InRange(views.Count, 672, (672 * 9 / 8) + 8);
        Assert.All(views, v => Assert.Equal(["path"], v.Properties.Keys));
        Assert.Empty(state.EventsByType.GetValueOrDefault("Purchased") ?? []);
        Assert.Equal(10_000, state.Running["PageViewed|"].Count);
        Assert.Equal(["busy", "spender"], state.Held.Keys.Order(StringComparer.Ordinal));
        var spender = engine.Explain(state, "spender", Start.AddMinutes(15 * 9_999)).Condition;
        Assert.Equal(("sum(Purchased.amount)", "300"), (spender.Parts[0].Expression, spender.Parts[0].Value));
    }

    private static Ruleset Load(string yaml)
    {
        var loaded = RulesetLoader.Load(yaml, "random.yaml");
        Assert.True(loaded.Succeeded, yaml + "\n" + string.Join("\n", loaded.Errors));
        return loaded.Ruleset!;
    }

    private static void Same(EvaluationResult bounded, EvaluationResult full, string context)
    {
        Assert.True(bounded.Changes.SequenceEqual(full.Changes), $"{context}\nbounded: {string.Join("; ", bounded.Changes)}\nfull: {string.Join("; ", full.Changes)}");
        Assert.True(bounded.Blocked.SequenceEqual(full.Blocked), $"{context}\nbounded: {string.Join("; ", bounded.Blocked)}\nfull: {string.Join("; ", full.Blocked)}");
        Assert.True(bounded.NextCheckAt == full.NextCheckAt, $"{context}\nbounded next check {bounded.NextCheckAt:O}, full {full.NextCheckAt:O}");
        Assert.Equal(full.State.Held.OrderBy(p => p.Key, StringComparer.Ordinal), bounded.State.Held.OrderBy(p => p.Key, StringComparer.Ordinal));
    }
}
